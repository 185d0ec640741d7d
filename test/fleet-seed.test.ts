// The seed's last stage end to end: this repository (the Hello app with the `deploy/` that
// `pier init` writes) is tagged and shipped to a host with a real systemd (helpers/nspawn.ts)
// behind nginx. The release carries pier itself (dist + node_modules), and the unit in the
// release (`service.unit`) is what systemd runs: `pier serve deploy/pier/prod.ini` from
// /opt/hello/current. v1, then v2 by a chain reload (same main PID, no restart), then rollback.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fetchText, pier } from './helpers/fleet-cli.js';
import { createTestFleet, type TestFleet } from './helpers/fleet-hosts.js';
import { type SystemdHost, startSystemdHost } from './helpers/nspawn.js';
import { repoRoot } from './helpers/paths.js';

let fleet: TestFleet;
let host: SystemdHost;
let work: string;
let repo: string;

const git = (...args: string[]) =>
  execFileSync('git', args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const hostText = async (argv: string[]) => (await host.run(argv)).trim();
const mainPid = () => hostText(['systemctl', 'show', '-p', 'MainPID', '--value', 'hello']);
const restarts = () => hostText(['systemctl', 'show', '-p', 'NRestarts', '--value', 'hello']);

/** The page until it matches (a chain reload replaces workers one by one), or the last answer. */
async function pageMatching(url: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await fetchText(url);
    if (pattern.test(text) || Date.now() > deadline) return text;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function release(version: string): Promise<void> {
  const started = Date.now();
  const result = await pier(repo, ['release', version], { timeoutMs: 180_000 });
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  console.log(`# release ${version}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

before(async () => {
  // The artifact build runs `npm ci` on the tag; the registry metadata in npm's cache is fresh
  // enough for a test, so npm need not ask the registry again for every package.
  process.env.npm_config_prefer_offline = 'true';
  process.env.npm_config_audit = 'false';
  process.env.npm_config_fund = 'false';
  fleet = await createTestFleet({});
  work = mkdtempSync(path.join(tmpdir(), 'pier-seed-'));
  repo = path.join(work, 'hello');
  // The repository as committed (not the working tree): what `git tag` would ship.
  execFileSync('git', ['clone', '--quiet', repoRoot, repo]);
  git('config', 'user.email', 'release@example.com');
  git('config', 'user.name', 'release');

  // deploy/ is exactly what `pier init` writes for the Hello app: running it again changes nothing.
  const init = await pier(repo, ['init', '--name', 'hello', '--dir', 'deploy']);
  assert.equal(init.code, 0, `${init.stdout}\n${init.stderr}`);
  assert.equal(git('status', '--porcelain'), '', 'pier init rewrote deploy/');

  const address = fleet.gateway.replace(/\.1$/, '.200');
  writeFileSync(
    path.join(repo, 'deploy', 'fleet.yml'),
    [
      'app: hello',
      `ssh: { user: root, identity: ${fleet.identity}, known_hosts: ${fleet.knownHosts}, connect_timeout: 5s }`,
      'service: { manager: systemd, name: hello, action: reload, unit: deploy/systemd/hello.service }',
      'health: { url: "http://127.0.0.1/", body: "Hello", timeout: 20s, interval: 200ms }',
      'datacenters:',
      '  sfo:',
      `    hosts: [{ name: web1.sfo, address: "${address}" }]`,
      '',
    ].join('\n'),
  );
  git('commit', '--quiet', '-am', 'fleet: one host');

  const nginxSite = readFileSync(path.join(repo, 'deploy/nginx/hello.conf'), 'utf8');
  const install = readFileSync(path.join(repo, 'deploy/scripts/install.sh'), 'utf8');
  // Booting the host and building v1 (npm ci + tsc) overlap.
  const [booted] = await Promise.all([
    startSystemdHost({
      name: `pisseed${fleet.id}`,
      bridge: fleet.bridge,
      address: `${address}/24`,
      authorizedKeys: [readFileSync(`${fleet.identity}.pub`, 'utf8').trim()],
      // The unit's ExecStart is /usr/bin/node: the controller's node, the one the artifact's
      // native addon was built for.
      binds: [{ source: '/usr/bin/node' }],
      files: { '/etc/nginx/sites-available/hello.conf': { content: nginxSite } },
    }),
    release('v1'),
  ]);
  host = booted;
  const key = readFileSync(path.join(host.root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8').split(' ');
  appendFileSync(fleet.knownHosts, `web1.sfo,${address} ${key[0]} ${key[1]}\n`);

  // The one-time host bootstrap (docs/fleet.md): the unit's User= account, created by the same
  // lines as install.sh, and the nginx site as the only site (Debian's default would answer
  // http://127.0.0.1/ otherwise).
  const useradd = /if ! id -u[\s\S]*?\nfi\n/.exec(install)?.[0];
  assert.ok(useradd, 'install.sh creates the service user');
  await host.run(['sh', '-euc', `SERVICE_USER=hello\n${useradd}`]);
  await host.run(['rm', '-f', '/etc/nginx/sites-enabled/default']);
  await host.run(['ln', '-s', '../sites-available/hello.conf', '/etc/nginx/sites-enabled/hello.conf']);
  await host.run(['systemctl', 'start', 'nginx']);
});

after(async () => {
  await host?.stop();
  await fleet?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('git tag → pier release → pier deploy: Hello behind nginx under systemd, reload, rollback', {
  timeout: 240_000,
}, async () => {
  const url = `http://${host.address}/`;
  assert.equal((await host.exec(['test', '-e', '/etc/systemd/system/hello.service'])).code, 1);

  // v2: a second commit changes the greeting. Its build overlaps the deploy of v1.
  const helloSource = path.join(repo, 'src/hello/hello.ts');
  writeFileSync(helloSource, readFileSync(helloSource, 'utf8').replaceAll('`Hello! ${', '`Hello again! ${'));
  git('commit', '--quiet', '-am', 'hello: greet again');
  const started = Date.now();
  const [first] = await Promise.all([pier(repo, ['deploy', 'v1']), release('v2')]);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  console.log(`# deploy v1 with release v2 alongside: ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // The unit came from the release; systemd runs pier from it as the unit's User=.
  assert.equal(
    readFileSync(path.join(host.root, 'etc/systemd/system/hello.service'), 'utf8'),
    readFileSync(path.join(repo, 'deploy/systemd/hello.service'), 'utf8'),
  );
  assert.equal(await hostText(['systemctl', 'is-active', 'hello']), 'active');
  assert.match(await fetchText(url), /^Hello! \d{4}-\d\d-\d\d /);
  const pid = await mainPid();
  assert.equal(await hostText(['stat', '-c', '%U', `/proc/${pid}`]), 'hello');

  // v2: the unit is the same, so activation is a reload (SIGHUP: chain reload), not a restart.
  const second = await pier(repo, ['deploy', 'v2']);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.match(await pageMatching(url, /^Hello again! /), /^Hello again! \d{4}-/);
  assert.equal(await mainPid(), pid, 'the master stayed: a reload, not a restart');
  assert.equal(await restarts(), '0');

  // A unit edited on the host (drift) is put back from the release, and that forces a restart.
  appendFileSync(path.join(host.root, 'etc/systemd/system/hello.service'), '# edited by hand\n');
  const back = await pier(repo, ['rollback']);
  assert.equal(back.code, 0, `${back.stdout}\n${back.stderr}`);
  assert.match(await pageMatching(url, /^Hello! \d/), /^Hello! \d{4}-/);
  assert.equal(
    readFileSync(path.join(host.root, 'etc/systemd/system/hello.service'), 'utf8'),
    readFileSync(path.join(repo, 'deploy/systemd/hello.service'), 'utf8'),
  );
  assert.notEqual(await mainPid(), pid, 'a changed unit restarts the service');
  assert.equal(await hostText(['readlink', '/opt/hello/current']), 'releases/v1');
  assert.match(
    await hostText(['cat', '/opt/hello/revisions.log']),
    /action=rollback version=v1 previous=v2 result=healthy/,
  );
});
