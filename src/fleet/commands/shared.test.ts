import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { dropInText, envDropIn, envFileText, loadEnv } from './environment.js';
import { runHook } from './hooks.js';
import { layoutOf } from './layout.js';
import { asRoot } from './privilege.js';
import { startService } from './service.js';
import { configureRelease, linkShared, missingShared } from './shared.js';
import { render } from './shell.js';

const layout = layoutOf('/opt/hello');

test('shared paths: checked, then linked into the release relative to it', () => {
  assert.equal(
    render(configureRelease(layout, 'v2', { dirs: ['storage', 'tmp/cache'], files: ['.env'] }, undefined)),
    'mkdir -p /opt/hello/shared/storage /opt/hello/shared/tmp/cache' +
      " && { test -f /opt/hello/shared/.env || printf 'pier-shared-missing:%s\\n' /opt/hello/shared/.env; }" +
      ' && test -f /opt/hello/shared/.env' +
      ' && { test -L /opt/hello/releases/v2/storage || rm -rf /opt/hello/releases/v2/storage; }' +
      ' && ln -sfn ../../shared/storage /opt/hello/releases/v2/storage.pier-tmp' +
      ' && mv -fT /opt/hello/releases/v2/storage.pier-tmp /opt/hello/releases/v2/storage' +
      ' && mkdir -p /opt/hello/releases/v2/tmp' +
      ' && { test -L /opt/hello/releases/v2/tmp/cache || rm -rf /opt/hello/releases/v2/tmp/cache; }' +
      ' && ln -sfn ../../../shared/tmp/cache /opt/hello/releases/v2/tmp/cache.pier-tmp' +
      ' && mv -fT /opt/hello/releases/v2/tmp/cache.pier-tmp /opt/hello/releases/v2/tmp/cache' +
      ' && { test -L /opt/hello/releases/v2/.env || rm -rf /opt/hello/releases/v2/.env; }' +
      ' && ln -sfn ../../shared/.env /opt/hello/releases/v2/.env.pier-tmp' +
      ' && mv -fT /opt/hello/releases/v2/.env.pier-tmp /opt/hello/releases/v2/.env' +
      ' && install -m 0600 /dev/null /opt/hello/releases/v2/.pier-env.tmp' +
      ' && cat > /opt/hello/releases/v2/.pier-env.tmp' +
      ' && mv -f /opt/hello/releases/v2/.pier-env.tmp /opt/hello/releases/v2/.pier-env',
  );
  assert.deepEqual(
    missingShared('pier-shared-missing:/opt/hello/shared/.env\npier-shared-missing:/opt/hello/shared/a b\n'),
    ['/opt/hello/shared/.env', '/opt/hello/shared/a b'],
  );
});

test('the links and the missing-file report work in a real shell', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'pier-shared-'));
  try {
    const local = layoutOf(root);
    const sh = (script: string, input = '') =>
      execFileSync('/bin/sh', ['-c', script], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    sh(
      `mkdir -p ${root}/releases/v1/storage ${root}/releases/v1/config && echo own > ${root}/releases/v1/config/local.json`,
    );
    const paths = { dirs: ['storage'], files: ['config/local.json'] };
    const script = render(configureRelease(local, 'v1', paths, undefined));
    const missing = (() => {
      try {
        sh(script);
      } catch (err) {
        return missingShared((err as { stdout: string }).stdout);
      }
      return [];
    })();
    assert.deepEqual(missing, [`${root}/shared/config/local.json`]);
    sh(`mkdir -p ${root}/shared/config && echo shared > ${root}/shared/config/local.json`);
    sh(script, 'A="1"\n');
    assert.equal(sh(`cat ${root}/releases/v1/config/local.json`), 'shared\n');
    assert.equal(sh(`readlink ${root}/releases/v1/storage`), '../../shared/storage\n');
    // Run again (a redeploy of the same release): the links are replaced in place.
    sh(script, 'A="2"\n');
    assert.equal(sh(`cat ${root}/releases/v1/.pier-env`), 'A="2"\n');
    assert.equal(sh(`stat -c %a ${root}/releases/v1/.pier-env`), '600\n');
    // Retention removes a release without following its links.
    sh(`rm -rf ${root}/releases/v1`);
    assert.equal(sh(`cat ${root}/shared/config/local.json`), 'shared\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the environment file reads back byte-exact in sh, whatever the value holds', () => {
  const values = {
    PLAIN: 'x',
    QUOTES: `it's "quoted"`,
    DOLLAR: `$HOME \${PATH} $(id) \`id\``,
    BACKSLASH: 'a\\b\\\\c\\',
    NEWLINES: 'line 1\nline 2\n\n',
    EMPTY: '',
  };
  const text = envFileText(values);
  assert.equal(text.split('\n')[2], `DOLLAR="\\$HOME \\\${PATH} \\$(id) \\\`id\\\`"`);
  const dir = mkdtempSync(path.join(tmpdir(), 'pier-env-'));
  try {
    const file = path.join(dir, 'env');
    writeFileSync(file, text);
    const dumped = execFileSync(
      '/bin/sh',
      [
        '-c',
        `${render(loadEnv(file, undefined))} && exec node -e 'process.stdout.write(JSON.stringify(process.env))'`,
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH } },
    );
    const env = JSON.parse(dumped) as Record<string, string>;
    for (const [key, value] of Object.entries(values)) assert.equal(env[key], value, key);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('manager none loads the shared env_file, then the release file; no value in argv', () => {
  const start = render(
    startService(layout, {
      manager: 'none',
      name: 'hello',
      action: 'restart',
      command: ['node', 'server.js'],
      env: { SECRET: 'never-in-argv' },
      env_file: '.env',
      stop_timeout: 1000,
    }),
  );
  assert.ok(!start.includes('never-in-argv'));
  assert.match(
    start,
    /; set -a && \. \/opt\/hello\/shared\/\.env && \{ test .* -f \/opt\/hello\/current\/\.pier-env \|\| \. \/opt\/hello\/current\/\.pier-env; \} && set \+a \|\| exit 1; exec \/usr\/bin\/setsid -- "\$@" \) &/,
  );
});

test('systemd: a drop-in loads the same files, installed with the unit when it differs', () => {
  assert.equal(
    dropInText(layout, '/opt/hello/shared/.env'),
    '# Written by pier: the environment of the release `current` points at (service.env) and\n' +
      '# the shared env_file. Read when the service starts.\n[Service]\n' +
      'EnvironmentFile=/opt/hello/shared/.env\nEnvironmentFile=-/opt/hello/current/.pier-env\n',
  );
  const service = { manager: 'systemd', name: 'hello', action: 'reload', env: { A: 'x' } } as const;
  const [install] = envDropIn(layout, 'v2', service, asRoot(false));
  assert.equal(
    render(install as NonNullable<typeof install>),
    "{ test '!' -f /opt/hello/releases/v2/.pier-systemd-env.conf" +
      ' || cmp -s /opt/hello/releases/v2/.pier-systemd-env.conf /etc/systemd/system/hello.service.d/pier-env.conf' +
      ' || { /usr/bin/install -d -m 0755 /etc/systemd/system/hello.service.d' +
      ' && /usr/bin/install -m 0644 /opt/hello/releases/v2/.pier-systemd-env.conf /etc/systemd/system/hello.service.d/pier-env.conf.pier-tmp' +
      ' && /usr/bin/mv -fT /etc/systemd/system/hello.service.d/pier-env.conf.pier-tmp /etc/systemd/system/hello.service.d/pier-env.conf' +
      ' && /usr/bin/systemctl daemon-reload && echo pier-unit-changed; }; }' +
      // action reload: a new environment needs a restart (a reload keeps the old process's).
      ' && { cmp -s /opt/hello/current/.pier-env /opt/hello/releases/v2/.pier-env || echo pier-unit-changed; }',
  );
  assert.deepEqual(envDropIn(layout, 'v2', { ...service, env: {} }), []);
  assert.deepEqual(envDropIn(layout, 'v2', { ...service, manager: 'none' }), []);
});

test('a hook runs in the release with its environment, bounded in time and in output', () => {
  assert.equal(
    render(runHook(layout, 'v2', 'once', 0, 'node migrate.mjs', 90_000, '/opt/hello/shared/.env')),
    'cd /opt/hello/releases/v2 && mkdir -p -m 0700 /opt/hello/releases/v2/.pier-hooks' +
      " && set -a && . /opt/hello/shared/.env && { test '!' -f /opt/hello/releases/v2/.pier-env || . /opt/hello/releases/v2/.pier-env; } && set +a" +
      ` && sh -c 'log=$1 bytes=$2; shift 2; umask 077; "$@" >"$log" 2>&1 </dev/null; status=$?; tail -c "$bytes" "$log"; exit $status'` +
      ' pier-hook /opt/hello/releases/v2/.pier-hooks/once-1.log 8192 timeout -k 5 90s sh -c' +
      " 'node migrate.mjs'",
  );
});

test('links of nested shared paths point into shared/ from their own depth', () => {
  const [nested] = linkShared(layout, 'v1', { dirs: ['a/b/c'], files: [] });
  assert.match(
    render(nested as NonNullable<typeof nested>),
    /ln -sfn \.\.\/\.\.\/\.\.\/\.\.\/shared\/a\/b\/c /,
  );
});
