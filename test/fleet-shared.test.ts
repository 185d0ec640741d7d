// What lives beside a release, on real hosts (network namespaces with sshd): shared files and
// directories that survive deploys and rollbacks, secrets that reach the app byte-exact and
// nowhere else, and hooks (once per deploy, before and after the switch, on the controller).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { type CliResult, fetchText, pier } from './helpers/fleet-cli.js';
import { createTestFleet, leftovers, type TestFleet } from './helpers/fleet-hosts.js';
import { pierBin } from './helpers/paths.js';

let fleet: TestFleet;
let app: AppRepo;

// Greppable token inside a secret that has every character a shell or an env file could mangle.
const token = `pier-secret-${randomBytes(6).toString('hex')}`;
const secret = `${token} it's "quoted" $HOME \${PATH} \`id\` back\\slash\nsecond line $$\n`;
const fileSecret = `file-${token}\nwith a newline inside`;
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const withSecret = { PIER_TEST_SECRET: secret };

// The app: reads the shared .env (through its environment) and config/app.json, counts visits in
// the shared storage/ directory, and says what its secrets hash to (never the values).
const server = `import http from 'node:http';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import app from './dist/app.mjs';
import { version } from './dist/version.mjs';

const sha = (v) => (v === undefined ? null : createHash('sha256').update(v).digest('hex'));
const read = (file) => { try { return readFileSync(file, 'utf8'); } catch { return ''; } };
const server = http.createServer(async (req, res) => {
  if (req.url === '/visit') appendFileSync('storage/visits', 'x');
  if (req.url === '/state' || req.url === '/visit') {
    res.end(JSON.stringify({
      version,
      dotenv: process.env.DOTENV_VALUE ?? null,
      config: read('config/app.json'),
      visits: read('storage/visits').length,
      greeting: process.env.GREETING ?? null,
      secret: sha(process.env.APP_SECRET),
      fileSecret: sha(process.env.FILE_SECRET),
    }));
    return;
  }
  const response = await app.fetch(new Request(\`http://\${req.headers.host}\${req.url}\`, { method: req.method }));
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
});
server.listen(Number(process.env.PORT ?? 8080), '0.0.0.0');
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
`;

interface State {
  version: string;
  dotenv: string | null;
  config: string;
  visits: number;
  greeting: string | null;
  secret: string | null;
  fileSecret: string | null;
}

const json = (value: unknown) => JSON.stringify(value);
const optOf = (name: string) => path.join(fleet.host(name).opt as string, 'hello');
const stateOf = async (name: string, what = 'state'): Promise<State> =>
  JSON.parse(await fetchText(`http://${fleet.host(name).address}:8080/${what}`)) as State;
const answer = (name: string) => fetchText(`http://${fleet.host(name).address}:8080/`);
const reportOf = (stdout: string) =>
  JSON.parse(readFileSync(/report: (\S+)/.exec(stdout)?.[1] as string, 'utf8'));
const secretFile = () => path.join(fleet.dir, 'file-secret');
const deploysDir = () => path.join(app.dir, '.pier', 'deploys');

/** fleet.yml with the shared paths and environment every test uses, plus `hooks` and rollout. */
function configure(
  options: {
    hooks?: Record<string, unknown>;
    rollout?: Record<string, unknown>;
    health?: Record<string, unknown>;
  } = {},
): void {
  const yaml = fleet.fleetYaml({
    rollout: { failure_budget: 1, ...options.rollout },
    ...(options.health ? { health: options.health } : {}),
    service: {
      env_file: '.env',
      env: {
        PORT: 8080,
        GREETING: 'hello "there"',
        APP_SECRET: `\${PIER_TEST_SECRET}`,
        FILE_SECRET: { file: secretFile() },
      },
    },
  });
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    `${yaml}shared: ${json({ dirs: ['storage'], files: ['config/app.json'] })}\n${options.hooks ? `hooks: ${json(options.hooks)}\n` : ''}`,
  );
}

async function release(version: string): Promise<void> {
  app.commit(version);
  const result = await pier(app.dir, ['release', version]);
  assert.equal(result.code, 0, result.stderr);
}

async function deploy(args: string[], env: NodeJS.ProcessEnv = withSecret): Promise<CliResult> {
  return pier(app.dir, ['deploy', ...args], { env });
}

before(async () => {
  fleet = await createTestFleet({ ams: 2, fra: 2 });
  app = createAppRepo();
  writeFileSync(path.join(app.dir, 'server.mjs'), server);
  writeFileSync(secretFile(), `${fileSecret}\n`);
  configure();
});

after(async () => {
  await fleet?.cleanup();
  app?.cleanup();
  if (fleet) assert.deepEqual(leftovers(fleet), []);
});

test('shared files and directories: required before anything is activated, kept across v1 → v2 → rollback', {
  timeout: 120_000,
}, async () => {
  await release('v1');
  await release('v2');
  const missing = await deploy(['v1']);
  assert.equal(missing.code, 1, missing.stdout);
  assert.match(
    missing.stdout,
    /shared files config\/app\.json, \.env missing: put them at \/opt\/hello\/shared\/config\/app\.json, \/opt\/hello\/shared\/\.env/,
  );
  for (const host of fleet.hosts) {
    assert.equal(existsSync(path.join(optOf(host.name), 'current')), false, `${host.name} was activated`);
  }
  // No host was switched, so there was nothing to roll back: the deploy stopped (halted).
  assert.match(missing.stdout, /^deploy v1: stopped \(failure budget exceeded/m);
  assert.doesNotMatch(missing.stdout, /rolled back/);
  // setup --check names them too (and setup makes the shared directories).
  const check = await pier(app.dir, ['setup', '--check']);
  assert.equal(check.code, 1, check.stdout);
  assert.match(check.stdout, /^ {2}shared\/config\/app\.json: 4 hosts/m);
  assert.match(check.stdout, /^ {2}shared\/\.env: 4 hosts/m);
  const setup = await pier(app.dir, ['setup']);
  assert.equal(setup.code, 1, setup.stdout);
  assert.match(setup.stdout, /^setup: 0 hosts changed, 0 unchanged, 4 failed$/m);
  assert.match(
    setup.stdout,
    /shared\/config\/app\.json: missing; put it at \/opt\/hello\/shared\/config\/app\.json/,
  );
  for (const host of fleet.hosts) assert.ok(existsSync(path.join(optOf(host.name), 'shared', 'storage')));

  for (const host of fleet.hosts) {
    mkdirSync(path.join(optOf(host.name), 'shared', 'config'), { recursive: true });
    writeFileSync(
      path.join(optOf(host.name), 'shared', '.env'),
      `DOTENV_VALUE="from the .env of ${host.name}"\n`,
    );
    writeFileSync(path.join(optOf(host.name), 'shared', 'config', 'app.json'), `{"db":"${host.name}"}\n`);
  }
  const checked = await pier(app.dir, ['setup', '--check']);
  assert.doesNotMatch(checked.stdout, /shared\//, 'the shared files are there now');
  const v1 = await deploy(['v1']);
  assert.equal(v1.code, 0, `${v1.stdout}\n${v1.stderr}`);
  for (const host of fleet.hosts) {
    const state = await stateOf(host.name);
    assert.deepEqual(
      [state.version, state.dotenv, state.config, state.greeting],
      ['v1', `from the .env of ${host.name}`, `{"db":"${host.name}"}\n`, 'hello "there"'],
    );
    await stateOf(host.name, 'visit');
    assert.equal((await stateOf(host.name, 'visit')).visits, 2);
  }

  const v2 = await deploy(['v2']);
  assert.equal(v2.code, 0, `${v2.stdout}\n${v2.stderr}`);
  for (const host of fleet.hosts) {
    const state = await stateOf(host.name, 'visit');
    assert.deepEqual([state.version, state.visits, state.dotenv], ['v2', 3, `from the .env of ${host.name}`]);
    assert.equal(readlinkSync(path.join(optOf(host.name), 'releases', 'v2', '.env')), '../../shared/.env');
    assert.equal(
      readlinkSync(path.join(optOf(host.name), 'releases', 'v2', 'storage')),
      '../../shared/storage',
    );
  }

  const back = await pier(app.dir, ['rollback']);
  assert.equal(back.code, 0, `${back.stdout}\n${back.stderr}`);
  for (const host of fleet.hosts) {
    const state = await stateOf(host.name);
    assert.deepEqual(
      [state.version, state.visits, state.dotenv, state.config],
      ['v1', 3, `from the .env of ${host.name}`, `{"db":"${host.name}"}\n`],
    );
  }
});

test('secrets reach the app and its hooks byte-exact, and nothing else: journal, report, dry-run, ps, artifact', {
  timeout: 120_000,
}, async () => {
  await release('v3');
  const hostsBefore = readdirSync(deploysDir()).length;
  const unset = await deploy(['v3'], {});
  assert.equal(unset.code, 2, unset.stderr);
  assert.match(
    unset.stderr,
    /fleet\.yml:\d+: service\.env\.APP_SECRET: \$\{PIER_TEST_SECRET\} is not set in the controller's environment/,
  );
  assert.match(
    unset.stderr,
    /hint: give each secret named above its value on the controller: export the variable in the shell that runs pier/,
  );
  assert.equal(readdirSync(deploysDir()).length, hostsBefore, 'no deploy was started');

  const dryRun = await deploy(['v3', '--dry-run']);
  assert.equal(dryRun.code, 0, dryRun.stderr);
  assert.match(dryRun.stdout, /APP_SECRET=\$\{PIER_TEST_SECRET\} FILE_SECRET=<file \S+file-secret>/);

  // The hook holds still for a while so the host's process list can be read while it runs.
  const running = '/opt/hello/shared/hook-running';
  configure({
    hooks: {
      after_stage: `printf %s "$APP_SECRET" | sha256sum > /opt/hello/shared/hook-saw && touch ${running} && sleep 1.5 && rm ${running}`,
    },
  });
  const dryRunWithHooks = await deploy(['v3', '--dry-run']);
  assert.match(dryRunWithHooks.stdout, /after_stage: cd \/opt\/hello\/releases\/v3 && /);
  const samples: string[] = [];
  const deploying = deploy(['v3']);
  let sawHook = false;
  let finished = false;
  void deploying.then(() => {
    finished = true;
  });
  while (!finished) {
    if (existsSync(path.join(optOf('ams-1'), 'shared', 'hook-running'))) {
      sawHook = true;
      samples.push(fleet.exec('ams-1', ['ps', '-eo', 'args']));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const result = await deploying;
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.ok(sawHook, 'the hook was seen running');
  assert.ok(
    samples.some((ps) => ps.includes('sleep 1.5')),
    samples.join('\n---\n'),
  );
  for (const host of fleet.hosts) {
    const state = await stateOf(host.name);
    assert.equal(state.version, 'v3');
    assert.equal(state.secret, sha(secret), `${host.name}: the app's secret is byte-exact`);
    assert.equal(state.fileSecret, sha(fileSecret), `${host.name}: the file secret is byte-exact`);
    assert.equal(
      readFileSync(path.join(optOf(host.name), 'shared', 'hook-saw'), 'utf8'),
      `${sha(secret)}  -\n`,
      `${host.name}: the hook saw the same bytes`,
    );
    assert.equal(
      fleet.exec(host.name, ['stat', '-c', '%a', '/opt/hello/releases/v3/.pier-env']).trim(),
      '600',
    );
    // The hook's log on the host may show what the hook printed of its secrets: the user's alone.
    assert.equal(
      fleet
        .exec(host.name, [
          'stat',
          '-c',
          '%a',
          '/opt/hello/releases/v3/.pier-hooks',
          '/opt/hello/releases/v3/.pier-hooks/after_stage-1.log',
        ])
        .trim(),
      '700\n600',
    );
    samples.push(fleet.exec(host.name, ['ps', '-eo', 'args']));
  }
  assert.ok(
    samples.some((ps) => ps.includes('node server.mjs')),
    'the app was running while sampled',
  );

  const report = /report: (\S+)/.exec(result.stdout)?.[1] as string;
  const places: Array<[string, string]> = [
    ['journal', readFileSync(report.replace(/\.json$/, '.jsonl'), 'utf8')],
    ['report', readFileSync(report, 'utf8')],
    ['dry-run', dryRun.stdout + dryRunWithHooks.stdout],
    ['deploy output', result.stdout + result.stderr],
    ['host ps', samples.join('\n')],
    ...readdirSync(path.join(app.dir, '.pier', 'artifacts')).map((name): [string, string] => [
      `artifact ${name}`,
      gunzipSync(readFileSync(path.join(app.dir, '.pier', 'artifacts', name))).toString('latin1'),
    ]),
  ];
  for (const [where, text] of places) {
    assert.ok(text.length > 0, where);
    assert.equal(text.includes(token), false, `the secret is in the ${where}`);
  }
});

/** Lines the once hook appended for `version`, over every host (each has its own shared/). */
function migrations(version: string): number {
  return fleet.hosts
    .map((host) => {
      const file = path.join(optOf(host.name), 'shared', 'migrations.log');
      return existsSync(file)
        ? readFileSync(file, 'utf8')
            .split('\n')
            .filter((line) => line === version).length
        : 0;
    })
    .reduce((a, b) => a + b, 0);
}

const onceHook =
  'basename "$PWD" >> /opt/hello/shared/migrations.log && head -c 3000000 /dev/zero | tr "\\000" x && echo && echo "migrated to $(basename "$PWD")"';

test('a once hook runs exactly once per deploy across data centers, and not again after --resume', {
  timeout: 150_000,
}, async () => {
  await release('v4');
  await release('v5');
  configure({ hooks: { once: onceHook }, rollout: { dc_parallel: 2 } });
  const v4 = await deploy(['v4']);
  assert.equal(v4.code, 0, `${v4.stdout}\n${v4.stderr}`);
  assert.equal(migrations('v4'), 1);
  const [run, ...others] = reportOf(v4.stdout).hooks;
  assert.deepEqual(others, []);
  assert.equal(run.hook, 'once');
  assert.equal(run.exit, 0);
  // Three megabytes of output: the report keeps the last 8 KiB.
  assert.ok(run.output.length <= 8192, `${run.output.length} bytes kept`);
  assert.ok(run.output.endsWith('x\nmigrated to v4\n'), run.output.slice(-100));

  // One host at a time with a bake: slow enough to kill the controller after the migration.
  configure({ hooks: { once: onceHook }, rollout: { canary: 1, window: 1 }, health: { bake: '400ms' } });
  const known = new Set(readdirSync(deploysDir()));
  const child = spawn(process.execPath, [pierBin, 'deploy', 'v5'], {
    cwd: app.dir,
    env: { ...process.env, ...withSecret },
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const journal = readdirSync(deploysDir()).find((name) => name.endsWith('.jsonl') && !known.has(name));
    const text = journal ? readFileSync(path.join(deploysDir(), journal), 'utf8') : '';
    if (text.includes('"type":"once"') && text.includes('"state":"healthy"')) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      assert.fail(`the deploy did not get past its migration: ${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  child.kill('SIGKILL');
  await exited;
  assert.equal(migrations('v5'), 1);
  const resumed = await deploy(['--resume']);
  assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
  assert.match(resumed.stdout, /deploy v5: done, 4\/4 hosts healthy/);
  assert.equal(migrations('v5'), 1, 'the migration ran once, not again on --resume');
  assert.deepEqual(reportOf(resumed.stdout).hooks, []);
  for (const host of fleet.hosts) assert.equal(await answer(host.name), 'Hello! from v5');
});

test('a failing before_activate leaves the old release serving; within the budget nothing else moves back', {
  timeout: 120_000,
}, async () => {
  await release('v6');
  writeFileSync(path.join(optOf('fra-2'), 'shared', 'refuse'), '');
  configure({ hooks: { before_activate: 'test ! -f /opt/hello/shared/refuse' } });
  const result = await deploy(['v6']);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(
    result.stdout,
    /1 host: before_activate hook `test ! -f \/opt\/hello\/shared\/refuse` failed \(exit 1\)\n {4}fra-2/,
  );
  assert.match(result.stdout, /deploy v6: done, 3\/4 hosts healthy/);
  const states = reportOf(result.stdout).hosts.map((h: { name: string; state: string; code: string }) => [
    h.name,
    h.state,
    h.code ?? null,
  ]);
  assert.deepEqual(states, [
    ['ams-1', 'healthy', null],
    ['ams-2', 'healthy', null],
    ['fra-1', 'healthy', null],
    ['fra-2', 'failed', 'FLEET_HOOK'],
  ]);
  assert.equal(readlinkSync(path.join(optOf('fra-2'), 'current')), 'releases/v5');
  assert.equal(await answer('fra-2'), 'Hello! from v5');
  for (const name of ['ams-1', 'ams-2', 'fra-1']) assert.equal(await answer(name), 'Hello! from v6');
});

test('a hanging hook is stopped at hooks.timeout and its host rolled back; local hooks see the deploy', {
  timeout: 120_000,
}, async () => {
  await release('v7');
  writeFileSync(path.join(optOf('ams-2'), 'shared', 'hang'), '');
  const local = path.join(fleet.dir, 'local-hooks.log');
  configure({
    hooks: {
      after_activate: 'if [ -f /opt/hello/shared/hang ]; then sleep 120; fi',
      timeout: '1s',
      pre_deploy: `echo "pre $PIER_DEPLOY_ID $PIER_VERSION $PIER_HOST_COUNT" >> ${local}`,
      post_deploy: `echo "post $PIER_DEPLOY_ID $PIER_OUTCOME $PIER_REPORT" >> ${local}`,
    },
  });
  const result = await deploy(['v7']);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(
    result.stdout,
    /1 host: after_activate hook `if \[ -f \/opt\/hello\/shared\/hang \]; then sleep 120; fi` timed out after 1 s \(back on v6\)\n {4}ams-2/,
  );
  assert.equal(await answer('ams-2'), 'Hello! from v6');
  assert.doesNotMatch(fleet.exec('ams-2', ['ps', '-eo', 'args']), /sleep 120/, 'the hook was killed');
  const report = /report: (\S+)/.exec(result.stdout)?.[1] as string;
  const id = path.basename(report, '.json');
  assert.equal(readFileSync(local, 'utf8'), `pre ${id} v7 4\npost ${id} done ${report}\n`);

  // A failing pre_deploy stops the deploy before any host is contacted.
  configure({ hooks: { pre_deploy: 'echo not today; exit 3' } });
  const journals = readdirSync(deploysDir()).length;
  const refused = await deploy(['v7']);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /^pre_deploy: not today$/m);
  assert.match(
    refused.stderr,
    /error\[FLEET_HOOK\]: pre_deploy hook `echo not today; exit 3` failed \(exit 3\)/,
  );
  assert.equal(readdirSync(deploysDir()).length, journals);
});
