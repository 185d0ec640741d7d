// Every command builder, asserted as the exact command line the host's shell receives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCurrent, switchCurrent, versionOfLink } from './activate.js';
import { appendAudit, auditLine } from './audit.js';
import { healthGate, parseGate, parseProbe, probeHealth } from './health.js';
import { layoutOf } from './layout.js';
import { breakLock, parseLockReport, releaseLock, renewLock, takeLock } from './lock.js';
import { asRoot, refusedCommand } from './privilege.js';
import { dropRelayCopy, serveArtifact } from './relay.js';
import { probeReleases, removeReleases, splitReleaseProbe } from './retention.js';
import {
  applyRelease,
  appRunning,
  parseServiceStatus,
  type ServiceSpec,
  startService,
  stopGroupScript,
  stopService,
} from './service.js';
import { all, each, either, pipe, quote, render, writeTo } from './shell.js';
import {
  cachedHostRuntime,
  cleanStage,
  prepareDirs,
  pullArtifact,
  receiveArtifact,
  splitStageProbe,
  stageArtifact,
  stagedSha,
  stageProbe,
  unpackArtifact,
  verifyArtifact,
} from './stage.js';
import { parseStatus, probeStatus } from './status.js';
import { installUnit, unitChanged, unitFileName } from './unit.js';

const layout = layoutOf('/opt/hello');
const sha = 'ab'.repeat(32);

test('quoting: safe words stay bare, everything else is single-quoted', () => {
  assert.equal(quote('/opt/hello/releases/v1.2+b'), '/opt/hello/releases/v1.2+b');
  assert.equal(quote('v1;touch /tmp/x'), `'v1;touch /tmp/x'`);
  assert.equal(quote(`it's $(x)`), `'it'"'"'s $(x)'`);
  assert.equal(quote(''), `''`);
  assert.equal(render(['echo', 'a b', '*']), `echo 'a b' '*'`);
});

test('combinators group nested lists with braces', () => {
  assert.equal(render(either(all(['a'], ['b']), ['c'])), '{ a && b; } || c');
  assert.equal(render(each(pipe(['x'], ['y']), writeTo(['z'], '/f g'))), `x | y; z > '/f g'`);
  assert.equal(render(all(either(['a'], ['b']), ['c'])), '{ a || b; } && c');
  assert.equal(render(all(all(['a'], ['b']), ['c'])), 'a && b && c');
  assert.equal(render(pipe(all(['a'], ['b']), ['c'])), '{ a && b; } | c');
  assert.equal(render(all(['only'])), 'only');
});

test('stage commands', () => {
  assert.equal(
    render(stagedSha(layout, 'v2')),
    '( set -- /opt/hello/releases/v2/.pier-artifact; read -r sha < "$1" && printf "%s\\n" "$sha"\n) 2>/dev/null || true',
  );
  assert.equal(
    render(prepareDirs(layout, 'v2')),
    "{ test '!' -e /opt/hello/releases/.partial-v2 || rm -rf /opt/hello/releases/.partial-v2; }" +
      ' && mkdir -p /opt/hello/releases /opt/hello/shared/log /opt/hello/releases/.partial-v2',
  );
  assert.equal(render(receiveArtifact(layout, sha)), `cat > /opt/hello/releases/.incoming-${sha}.tar.gz`);
  // Run against a real relay in programs.test.ts.
  assert.match(
    render(pullArtifact(layout, sha, { address: '10.0.0.1', port: 4000 }, 60)),
    new RegExp(
      `^\\( set -- 60 '.*' 10\\.0\\.0\\.1 4000 ${sha}; unset BASH_ENV; exec timeout "\\$1" bash --norc --noprofile -c "\\$2" pier-relay-pull "\\$3" "\\$4" "\\$5"\n\\) > /opt/hello/releases/\\.incoming-${sha}\\.tar\\.gz$`,
      's',
    ),
  );
  assert.equal(
    render(verifyArtifact(layout, sha)),
    `printf '%s  %s\\n' ${sha} /opt/hello/releases/.incoming-${sha}.tar.gz | sha256sum --check --status` +
      ` || { rm -f /opt/hello/releases/.incoming-${sha}.tar.gz && false; }`,
  );
  assert.equal(
    render(unpackArtifact(layout, 'v2', sha)),
    `tar -xzf /opt/hello/releases/.incoming-${sha}.tar.gz -C /opt/hello/releases/.partial-v2` +
      ` && printf '%s\\n' ${sha} > /opt/hello/releases/.partial-v2/.pier-artifact` +
      ' && mv -T /opt/hello/releases/.partial-v2 /opt/hello/releases/v2' +
      ` && rm -f /opt/hello/releases/.incoming-${sha}.tar.gz`,
  );
  assert.doesNotMatch(render(unpackArtifact(layout, 'v2', sha, true)), /rm -f/);
  assert.equal(
    render(cleanStage(layout, 'v2', sha)),
    `rm -rf /opt/hello/releases/.partial-v2 /opt/hello/releases/.incoming-${sha}.tar.gz`,
  );
});

test('activate commands: the symlink switch is a rename', () => {
  assert.equal(
    render(readCurrent(layout)),
    '( set -- /opt/hello/current; cd -P "$1" && pwd -P\n) 2>/dev/null || true',
  );
  assert.equal(
    render(switchCurrent(layout, 'v2')),
    'ln -sfn releases/v2 /opt/hello/current.tmp && mv -T /opt/hello/current.tmp /opt/hello/current',
  );
  assert.equal(versionOfLink('releases/v2\n'), 'v2');
  assert.equal(versionOfLink('/opt/hello/releases/v1.0'), 'v1.0');
  assert.equal(versionOfLink(''), undefined);
});

test('service commands for systemd and for manager none', () => {
  const systemd: ServiceSpec = {
    manager: 'systemd',
    name: 'hello',
    action: 'reload',
    env: {},
    stop_timeout: 10_000,
  };
  assert.equal(render(applyRelease(layout, systemd)), '/usr/bin/systemctl reload-or-restart hello');
  assert.equal(
    render(applyRelease(layout, { ...systemd, action: 'restart' })),
    '/usr/bin/systemctl restart hello',
  );
  assert.equal(render(stopService(layout, systemd)), '/usr/bin/systemctl stop hello');
  // Through sudo: asked first whether it may run without a password (exit 97 names it if not).
  assert.equal(
    render(applyRelease(layout, systemd, false, asRoot(true))),
    "{ { sudo -n -l /usr/bin/systemctl reload-or-restart hello > /dev/null; } 2>/dev/null || { printf 'pier-sudo-refused: %s\\n' '/usr/bin/systemctl reload-or-restart hello' && sh -c 'exit 97'; }; } && sudo -n -- /usr/bin/systemctl reload-or-restart hello",
  );
  assert.equal(
    refusedCommand('pier-sudo-refused: /usr/bin/systemctl restart hello\n'),
    '/usr/bin/systemctl restart hello',
  );
  const none: ServiceSpec = {
    manager: 'none',
    name: 'hello',
    action: 'restart',
    command: ['node', 'server.js'],
    env: { PORT: '8080', GREETING: 'a b' },
    stop_timeout: 3_000,
  };
  // The whole process group goes: with `sh -c "node server.js"` the pidfile names only the shell.
  // The program itself is tested against real process groups (test/fleet-app-stop.test.ts).
  const stop = `( set -- /opt/hello/shared/hello.pid 3000 /opt/hello; ${stopGroupScript}\n)`;
  // The start program is run against the real /bin/sh in programs.test.ts; here, what it is given.
  const start = render(startService(layout, none));
  assert.ok(
    start.startsWith(
      '( set -- /opt/hello/shared/hello.pid /opt/hello/current /opt/hello/shared/log/hello.log node server.js;',
    ),
    start,
  );
  // No value of service.env in the argv: the job's shell loads the release's file, then execs.
  assert.ok(!start.includes('8080') && !start.includes('a b'), start);
  assert.match(
    start,
    /set -a && \{ test '!' -f \/opt\/hello\/current\/\.pier-env \|\| \. \/opt\/hello\/current\/\.pier-env; \} && set \+a \|\| exit 1; exec \/usr\/bin\/setsid -- "\$@" \) &/,
  );
  assert.equal(render(stopService(layout, none)), stop);
  assert.equal(render(applyRelease(layout, none)), `${stop} && ${start}`);
  // No service.env and no env_file: nothing to load before the command.
  assert.match(
    render(startService(layout, { ...none, env: {} })),
    /2>&1; exec \/usr\/bin\/setsid -- "\$@" \) &/,
  );
  // runtime: bundled: the release's Node first on the PATH, set by the same shell.
  assert.match(
    render(startService(layout, { ...none, env: {}, runtime: 'bundled' })),
    /2>&1; PATH=\/opt\/hello\/current\/\.pier-runtime\/bin:\/usr\/local\/sbin:[^;]*; export PATH; exec \/usr\/bin\/setsid/,
  );
  assert.equal(
    render(appRunning(layout, none)),
    '( set -- /opt/hello/shared/hello.pid; { read -r pid < "$1"; } 2>/dev/null || exit 3;' +
      ' case $pid in ""|*[!0-9]*|0) exit 3;; esac; { read -r st < /proc/$pid/stat; } 2>/dev/null || exit 1;' +
      ` set -- \${st##*)}; [ "$1" != Z ] || exit 1\n)`,
  );
});

test("the release's unit is installed only when it differs, and then forces a restart", () => {
  assert.equal(
    render(installUnit(layout, 'v2', 'hello', 'deploy/systemd/hello.service')),
    'cmp -s /opt/hello/releases/v2/deploy/systemd/hello.service /etc/systemd/system/hello.service || ' +
      '{ /usr/bin/install -m 0644 /opt/hello/releases/v2/deploy/systemd/hello.service /etc/systemd/system/hello.service.pier-tmp' +
      ' && /usr/bin/mv -fT /etc/systemd/system/hello.service.pier-tmp /etc/systemd/system/hello.service' +
      ' && /usr/bin/systemctl daemon-reload && echo pier-unit-changed; }',
  );
  assert.equal(unitFileName('hello'), 'hello.service');
  assert.equal(unitFileName('web@1.service'), 'web@1.service');
  assert.equal(unitChanged('pier-unit-changed\n'), true);
  assert.equal(unitChanged(''), false);
  const spec: ServiceSpec = {
    manager: 'systemd',
    name: 'hello',
    action: 'reload',
    unit: 'deploy/systemd/hello.service',
    env: {},
    stop_timeout: 10_000,
  };
  assert.equal(render(applyRelease(layout, spec, false)), '/usr/bin/systemctl reload-or-restart hello');
  assert.equal(render(applyRelease(layout, spec, true)), '/usr/bin/systemctl restart hello');
});

test('health probe and its parser', () => {
  assert.equal(
    render(probeHealth('http://127.0.0.1:8080/health?x=1&y', 2_000)),
    `curl -sS --max-time 2.0 -o - -w '\n--pier-status:%{http_code}' 'http://127.0.0.1:8080/health?x=1&y'`,
  );
  assert.deepEqual(parseProbe('ok v2\n--pier-status:200'), { status: 200, body: 'ok v2' });
  assert.deepEqual(parseProbe('\n--pier-status:000'), { status: 0, body: '' });
  assert.deepEqual(parseProbe('curl: (7) refused'), { status: 0, body: 'curl: (7) refused' });
});

test('lock commands', () => {
  const info = '{"owner":"a@b","deploy":"d1"}';
  const lock = '/opt/hello/.pier-lock';
  const made = `mkdir -p ${lock}.new-n1`;
  const built = `printf '%s\\n' '${info}' > ${lock}.new-n1/info && true > ${lock}.new-n1/deploy-d1`;
  const place =
    `{ mv -T ${lock}.new-n1 ${lock} && echo 'pier-lock: taken'; } || { rm -rf ${lock}.new-n1 && test -d ${lock}` +
    ` && echo 'pier-lock: held' && { cat ${lock}/info 2>/dev/null || true; }; }`;
  assert.equal(
    render(takeLock(layout, 'd1', info, 'n1')),
    `${made} && { { ${built}; } || { rm -rf ${lock}.new-n1 && false; }; } && { ${place}; }`,
  );
  const stale = '{"owner":"x@y","deploy":"d0"}';
  assert.equal(
    render(takeLock(layout, 'd1', info, 'n1', stale)),
    `${made} && { { ${built}; } || { rm -rf ${lock}.new-n1 && false; }; }` +
      ` && { { grep -qxF -e '${stale}' ${lock}/info && mv -T ${lock} ${lock}.old-n1` +
      ` && { { grep -qxF -e '${stale}' ${lock}.old-n1/info && { rm -rf ${lock}.old-n1 2>/dev/null || true; }; }` +
      ` || { mv -T ${lock}.old-n1 ${lock} && false; }; }; } 2>/dev/null || true; } && { ${place}; }`,
  );
  assert.equal(
    render(releaseLock(layout, 'd1', 'n1')),
    `test '!' -e ${lock}/deploy-d1 || { mv -T ${lock} ${lock}.old-n1 && { rm -rf ${lock}.old-n1 2>/dev/null || true; }; }`,
  );
  assert.equal(
    render(renewLock(layout, 'd1', '{"deploy":"d1"}')),
    `{ test -e ${lock}/deploy-d1 && printf '%s\\n' '{"deploy":"d1"}' > ${lock}/info.next && mv -f ${lock}/info.next ${lock}/info; } 2>/dev/null || true`,
  );
  assert.equal(
    render(breakLock(layout, 'n1')),
    `{ test -d ${lock} && echo 'pier-lock: held' && { cat ${lock}/info 2>/dev/null || true; }; } || echo 'pier-lock: none';` +
      ` test '!' -e ${lock} || { mv -T ${lock} ${lock}.old-n1 && { rm -rf ${lock}.old-n1 2>/dev/null || true; }; }`,
  );
});

test("lock outcomes are read from pier's own lines, whatever a login shell printed first", () => {
  assert.deepEqual(parseLockReport('pier-lock: taken\n'), { state: 'taken', holder: '' });
  assert.deepEqual(parseLockReport('Welcome!\npier-lock: held\n{"deploy":"d0"}\n'), {
    state: 'held',
    holder: '{"deploy":"d0"}',
  });
  assert.deepEqual(parseLockReport('pier-lock: held\n'), { state: 'held', holder: '' });
  assert.deepEqual(parseLockReport('pier-lock: none\n'), { state: 'none', holder: '' });
  assert.equal(parseLockReport('mkdir: Die Datei existiert bereits\n'), undefined);
});

test('audit line and its command', () => {
  const entry = {
    at: new Date(Date.UTC(2024, 0, 5, 7, 8, 9, 500)),
    deploy: 'd1',
    action: 'deploy' as const,
    version: 'v2',
    previous: undefined,
    result: 'healthy',
    by: 'alice@laptop one',
  };
  const line =
    '2024-01-05T07:08:09Z deploy=d1 action=deploy version=v2 previous=- result=healthy by=alice@laptop_one';
  assert.equal(auditLine(entry), line);
  assert.equal(render(appendAudit(layout, entry)), `printf '%s\\n' '${line}' >> /opt/hello/revisions.log`);
});

test('retention and relay commands', () => {
  assert.equal(
    render(probeReleases(layout)),
    `find /opt/hello/releases -mindepth 1 -maxdepth 1 -type d -printf '%T@ %f\\n' 2>/dev/null || true;` +
      ' echo --pier-section--; tail -n 200 /opt/hello/revisions.log 2>/dev/null || true',
  );
  assert.deepEqual(splitReleaseProbe('100 v1\n200 v2\n--pier-section--\nline 1\n\nline 2\n'), {
    list: '100 v1\n200 v2\n',
    revisions: ['line 1', 'line 2'],
    status: '',
  });
  assert.deepEqual(splitReleaseProbe('--pier-section--\n'), { list: '', revisions: [], status: '' });
  // Service manager systemd: the unit's status text too, where pier serve names its files.
  assert.equal(
    render(probeReleases(layout, 'hello')),
    `${render(probeReleases(layout))}; echo --pier-section--; systemctl show --property=ActiveState,MainPID,StatusText hello 2>/dev/null || true`,
  );
  assert.deepEqual(
    parseServiceStatus(
      'MainPID=812\nStatusText=2 of 2 workers ready, 5 requests served; reloads: 3; reload aborted, x\nActiveState=active\n',
    ),
    {
      activeState: 'active',
      mainPid: '812',
      statusText: '2 of 2 workers ready, 5 requests served; reloads: 3; reload aborted, x',
      reloads: 3,
    },
  );
  assert.deepEqual(parseServiceStatus(''), {
    activeState: '',
    mainPid: '',
    statusText: '',
    reloads: undefined,
  });
  assert.deepEqual(
    splitReleaseProbe('100 v1\n--pier-section--\nline 1\n--pier-section--\n2 of 2 workers ready\n'),
    {
      list: '100 v1\n',
      revisions: ['line 1'],
      status: '2 of 2 workers ready',
    },
  );
  assert.equal(
    render(removeReleases(layout, ['v1', 'v2'])),
    'rm -rf /opt/hello/releases/v1 /opt/hello/releases/v2',
  );
  assert.match(
    render(serveArtifact(layout, sha, '10.0.0.1')),
    new RegExp(`^node -e '.*' /opt/hello/releases/.incoming-${sha}.tar.gz ${sha} 10.0.0.1$`),
  );
  assert.equal(render(dropRelayCopy(layout, sha)), `rm -f /opt/hello/releases/.incoming-${sha}.tar.gz`);
});

test('status probe and its parser', () => {
  assert.equal(
    render(probeStatus(layout)),
    'readlink /opt/hello/current 2>/dev/null || true; echo --pier-section--;' +
      ' ls -1 /opt/hello/releases 2>/dev/null || true; echo --pier-section--;' +
      ' tail -n 20 /opt/hello/revisions.log 2>/dev/null || true; echo --pier-section--;' +
      ' cat /opt/hello/.pier-lock/info 2>/dev/null || true',
  );
  assert.deepEqual(
    parseStatus(
      'releases/v2\n--pier-section--\nv1\nv2\n.partial-v3\n--pier-section--\nl1\n--pier-section--\n',
    ),
    {
      currentLink: 'releases/v2',
      releases: ['v1', 'v2'],
      revisions: ['l1'],
      lockInfo: '',
      service: '',
    },
  );
  // With the service: whether the app runs, from the pidfile (none) or the unit (systemd).
  const none = { manager: 'none', name: 'hello', action: 'restart', stop_timeout: 10 } as const;
  assert.match(
    render(probeStatus(layout, none)),
    /echo --pier-section--; [\s\S]*&& echo running; } \|\| echo 'not running'$/,
  );
  assert.equal(
    parseStatus(
      'releases/v2\n--pier-section--\n--pier-section--\n--pier-section--\n--pier-section--\nnot running\n',
    ).service,
    'not running',
  );
  const unit = 'ActiveState=failed\nMainPID=0\nStatusText=\n';
  assert.equal(
    parseStatus(`x\n--pier-section--\n--pier-section--\n--pier-section--\n--pier-section--\n${unit}`).service,
    'failed',
  );
  assert.equal(
    parseStatus(
      'x\n--pier-section--\n--pier-section--\n--pier-section--\n--pier-section--\nActiveState=reloading\n',
    ).service,
    'running',
  );
});

test('the health gate runs on the host as one program, its verdict read from its last line', () => {
  const script = render(
    healthGate({
      url: 'http://127.0.0.1:8080/health',
      status: 200,
      body: 'ok v2',
      timeoutMs: 4000,
      intervalMs: 250,
      bakeMs: 0,
    }),
  );
  assert.match(
    script,
    /^\( set -- http:\/\/127\.0\.0\.1:8080\/health 200 'ok v2' 4000 250 0\.250 0 4\.0; url=\$1 .*\n\)$/s,
  );
  assert.deepEqual(parseGate('Welcome\npier-health:ok\n'), { ok: true });
  assert.deepEqual(parseGate('pier-health:fail:bake:500:1\n'), {
    ok: false,
    phase: 'bake',
    status: 500,
    bodyFound: true,
  });
  assert.equal(parseGate('curl: not found\n'), undefined);
});

test('a stage is one probe and one command that receives, checks, unpacks and runs the bundled Node', () => {
  assert.equal(
    render(stageProbe(layout, 'v2', true)),
    `${render(stagedSha(layout, 'v2'))}; echo --pier-stage-section--; ${render(readCurrent(layout))}; echo --pier-stage-section--; ${render(cachedHostRuntime('/opt/hello/.pier-host-node'))} 2>/dev/null || true`,
  );
  assert.deepEqual(
    splitStageProbe(
      'abc\n--pier-stage-section--\nreleases/v1\n--pier-stage-section--\nv20.1.0 115 linux x64\n',
    ),
    {
      marker: 'abc',
      current: 'releases/v1',
      node: 'v20.1.0 115 linux x64',
    },
  );
  const script = render(
    stageArtifact(layout, 'v2', 'f00d', { bundledNode: '/opt/hello/releases/v2/.pier-runtime/bin/node' }),
  );
  assert.match(
    script,
    /^\{ test '!' -e \/opt\/hello\/releases\/\.partial-v2 \|\| rm -rf \/opt\/hello\/releases\/\.partial-v2; \} && mkdir -p \/opt\/hello\/releases \/opt\/hello\/shared\/log \/opt\/hello\/releases\/\.partial-v2 && cat > \/opt\/hello\/releases\/\.incoming-f00d\.tar\.gz && /,
  );
  assert.match(script, /\|\| sh -c 'exit 98'/);
  assert.match(script, /\|\| \{ rm -rf \/opt\/hello\/releases\/v2 && sh -c 'exit 99'; \}/);
});
