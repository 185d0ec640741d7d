// The seed's last stage end to end, on a bare host: this repository (the Hello app with the
// `deploy/` that `pier init` writes) is tagged and shipped to a Debian host with a real systemd
// (helpers/nspawn.ts) that has sshd, sudo, curl and an nginx package, and no Node. The login is
// a non-root `deploy` user with sudo. `pier setup` creates the deploy tree, the service user, the
// unit, the bundled runtime's drop-in, the nginx site and a narrow sudoers drop-in; after that the
// broad sudo rule goes and the deploys run on the narrow one. The release carries pier itself
// (dist + node_modules) and the Node that built it (`runtime: bundled`). v1, then v2 by a chain
// reload (same main PID, no restart), v3 the same, keeping the release the reloaded master runs
// from, v4 whose app cannot start (refused at once, v3 kept), then rollback. Users without sudo,
// or whose sudo wants a password, fail setup at once with the refused command named.
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
let address: string;

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

  address = fleet.gateway.replace(/\.1$/, '.200');
  const ssh = (user: string) =>
    `{ user: ${user}, sudo: true, identity: ${fleet.identity}, known_hosts: ${fleet.knownHosts}, connect_timeout: 5s }`;
  const fleetFile = (user: string, hosts: string[]) =>
    [
      'app: hello',
      'runtime: bundled',
      'keep_releases: 2',
      `ssh: ${ssh(user)}`,
      'service: { manager: systemd, name: hello, action: reload, unit: deploy/systemd/hello.service, user: hello }',
      'setup: { nginx_site: deploy/nginx/hello.conf, disable_default_site: true, sudoers: true }',
      'shared: { dirs: [storage] }',
      'health: { url: "http://127.0.0.1/", body: "Hello", timeout: 20s, interval: 200ms }',
      'datacenters:',
      '  sfo:',
      '    hosts:',
      ...hosts.map((line) => `      - ${line}`),
      '',
    ].join('\n');
  writeFileSync(
    path.join(repo, 'deploy', 'fleet.yml'),
    fleetFile('deploy', [`{ name: web1.sfo, address: "${address}" }`]),
  );
  git('commit', '--quiet', '-am', 'fleet: one host, a non-root deploy user');
  // Logins that cannot set the host up: no sudo at all, and a sudo that wants a password.
  writeFileSync(
    path.join(work, 'fleet-users.yml'),
    fleetFile('nosudo', [
      `{ name: nosudo.sfo, address: "${address}", deploy_to: /opt/nosudo }`,
      `{ name: password.sfo, address: "${address}", user: pwuser, deploy_to: /opt/pwuser }`,
    ]),
  );

  // Booting the host and building v1 (npm ci + tsc) overlap.
  const [booted] = await Promise.all([
    startSystemdHost({
      name: `pisseed${fleet.id}`,
      bridge: fleet.bridge,
      address: `${address}/24`,
      authorizedKeys: [readFileSync(`${fleet.identity}.pub`, 'utf8').trim()],
      files: {
        // What a cloud image gives its first user, for the one-time setup; removed after it.
        '/etc/sudoers.d/deploy-setup': { content: 'deploy ALL=(ALL:ALL) NOPASSWD: ALL\n', mode: 0o440 },
        '/etc/sudoers.d/pwuser': { content: 'pwuser ALL=(ALL:ALL) ALL\n', mode: 0o440 },
      },
    }),
    release('v1'),
  ]);
  host = booted;
  const key = readFileSync(path.join(host.root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8').split(' ');
  appendFileSync(fleet.knownHosts, `web1.sfo,nosudo.sfo,password.sfo,${address} ${key[0]} ${key[1]}\n`);
  // Login users with /bin/sh, as a provisioning tool makes them; the key is the test's.
  const publicKey = readFileSync(`${fleet.identity}.pub`, 'utf8').trim();
  for (const user of ['deploy', 'nosudo', 'pwuser']) {
    await host.run(['useradd', '--create-home', '--shell', '/bin/sh', user]);
    await host.run([
      'sh',
      '-euc',
      'mkdir -p "/home/$1/.ssh" && printf "%s\\n" "$2" > "/home/$1/.ssh/authorized_keys" && chown -R "$1:$1" "/home/$1/.ssh" && chmod 700 "/home/$1/.ssh"',
      'sh',
      user,
      publicKey,
    ]);
  }
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
  assert.notEqual((await host.exec(['sh', '-c', 'command -v node'])).code, 0, 'the host has no Node');

  // A bare host: --check lists what is missing and changes nothing.
  const check = await pier(repo, ['setup', '--check']);
  assert.equal(check.code, 1, `${check.stdout}\n${check.stderr}`);
  assert.match(check.stdout, /missing:/);
  assert.match(check.stdout, /\/etc\/systemd\/system\/hello\.service: 1 host/);
  assert.match(check.stdout, /the service user hello: 1 host/);
  assert.equal((await host.exec(['test', '-e', '/opt/hello'])).code, 1, '--check changed nothing');

  const setup = await pier(repo, ['setup']);
  assert.equal(setup.code, 0, `${setup.stdout}\n${setup.stderr}`);
  assert.match(setup.stdout, /setup: 1 host changed, 0 unchanged, 0 failed/);
  assert.equal(await hostText(['stat', '-c', '%U', '/opt/hello']), 'deploy');
  assert.equal(await hostText(['id', '-un', 'hello']), 'hello');
  assert.equal(await hostText(['systemctl', 'is-enabled', 'hello']), 'enabled');
  assert.equal(
    await hostText(['readlink', '/etc/nginx/sites-enabled/hello.conf']),
    '../sites-available/hello.conf',
  );
  assert.equal((await host.exec(['test', '-e', '/etc/nginx/sites-enabled/default'])).code, 1);
  assert.match(await hostText(['cat', '/etc/sudoers.d/pier-hello']), /^deploy ALL=\(root\) NOPASSWD:/m);
  // A shared directory the app (user hello) writes, as the deploy's hooks (user deploy) do.
  assert.equal(await hostText(['stat', '-c', '%U:%G:%a', '/opt/hello/shared/storage']), 'deploy:hello:2775');
  const again = await pier(repo, ['setup']);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout, /setup: nothing to change on 1 host$/m);

  // From here on, deploy has only the narrow rule setup installed.
  await host.run(['rm', '/etc/sudoers.d/deploy-setup']);
  const prepared = await pier(repo, ['setup', '--check']);
  assert.equal(prepared.code, 0, `${prepared.stdout}\n${prepared.stderr}`);
  assert.match(prepared.stdout, /setup --check: the host has everything pier needs/);

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
  // In the service's own sandbox (ProtectSystem=strict, as the unit's user), shared/ is
  // writable (the unit's ReadWritePaths=) and the release is not.
  const asService = (file: string) =>
    host.exec([
      'nsenter',
      '-t',
      pid,
      '-m',
      'setpriv',
      '--reuid',
      'hello',
      '--regid',
      'hello',
      '--init-groups',
      'touch',
      file,
    ]);
  assert.equal((await asService('/opt/hello/shared/storage/written-by-the-app')).code, 0);
  assert.notEqual((await asService('/opt/hello/current/written-by-the-app')).code, 0);
  // The host has no Node: the service runs the one the release carries.
  assert.equal(
    await hostText(['readlink', `/proc/${pid}/exe`]),
    '/opt/hello/releases/v1/.pier-runtime/bin/node',
  );

  // v2: the unit is the same, so activation is a reload (SIGHUP: chain reload), not a restart.
  // v3's build overlaps it.
  writeFileSync(
    helloSource,
    readFileSync(helloSource, 'utf8').replaceAll('`Hello again! ${', '`Hello once more! ${'),
  );
  git('commit', '--quiet', '-am', 'hello: greet once more');
  const [second] = await Promise.all([pier(repo, ['deploy', 'v2']), release('v3')]);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.match(await pageMatching(url, /^Hello again! /), /^Hello again! \d{4}-/);
  assert.equal(await mainPid(), pid, 'the master stayed: a reload, not a restart');
  assert.equal(await restarts(), '0');
  // The workers the reload started work in the new release (prod.ini's chdir is `current`),
  // though the master stays in the one the unit started it in.
  // The master's children that are workers (not a systemd-notify it may be running), once the
  // reload's old ones are gone.
  const workerDirs = async (expected: string): Promise<string[]> => {
    const script =
      'for p in $(cat /proc/$1/task/$1/children); do case $(tr "\\0" " " < /proc/$p/cmdline) in *worker/main.js*) readlink /proc/$p/cwd;; esac; done';
    let dirs: string[] = [];
    for (let waited = 0; waited < 15_000; waited += 250) {
      dirs = [...new Set((await hostText(['sh', '-c', script, 'sh', pid])).split('\n'))];
      if (dirs.length === 1 && dirs[0] === expected) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return dirs;
  };
  assert.deepEqual(await workerDirs('/opt/hello/releases/v2'), ['/opt/hello/releases/v2']);
  assert.equal(await hostText(['readlink', `/proc/${pid}/cwd`]), '/opt/hello/releases/v1');

  // v3, reloaded too: keep_releases (2) would remove v1, but the master, only reloaded since it
  // started from v1, starts its workers from v1's Node and pier (its STATUS= says so): v1 stays,
  // and the next reload still starts workers.
  const third = await pier(repo, ['deploy', 'v3']);
  assert.equal(third.code, 0, `${third.stdout}\n${third.stderr}`);
  assert.match(await pageMatching(url, /^Hello once more! /), /^Hello once more! \d{4}-/);
  assert.deepEqual(await workerDirs('/opt/hello/releases/v3'), ['/opt/hello/releases/v3']);
  assert.equal((await host.exec(['test', '-d', '/opt/hello/releases/v1'])).code, 0, 'v1 is kept: in use');
  await host.run(['systemctl', 'reload', 'hello']);
  assert.match(await fetchText(url), /^Hello once more! \d{4}-/);
  assert.equal(await mainPid(), pid, 'the reload started its workers: no restart');
  assert.equal(await restarts(), '0');

  // v4's app throws when it loads in production: pier serve keeps v3's workers and says why in
  // its status; the host fails at once with that reason (not after the health timeout), and
  // current returns to v3.
  writeFileSync(
    helloSource,
    `if (process.env.NODE_ENV === 'production') throw new Error('v4 cannot start: no config');\n${readFileSync(helloSource, 'utf8')}`,
  );
  git('commit', '--quiet', '-am', 'hello: a release that cannot start');
  await release('v4');
  const fourth = await pier(repo, ['deploy', 'v4']);
  assert.equal(fourth.code, 1, `${fourth.stdout}\n${fourth.stderr}`);
  assert.match(
    fourth.stdout,
    /pier serve kept the running release: the new app does not boot: [^\n]*v4 cannot start: no config/,
  );
  assert.doesNotMatch(fourth.stdout, /health check failed after 20 s/);
  assert.equal(await hostText(['readlink', '/opt/hello/current']), 'releases/v3');
  assert.match(await fetchText(url), /^Hello once more! /);
  assert.equal(await mainPid(), pid, 'v3 kept serving: no restart');

  // A unit edited on the host (drift) is put back from the release, and that forces a restart.
  appendFileSync(path.join(host.root, 'etc/systemd/system/hello.service'), '# edited by hand\n');
  const back = await pier(repo, ['rollback']);
  assert.equal(back.code, 0, `${back.stdout}\n${back.stderr}`);
  assert.match(await pageMatching(url, /^Hello again! \d/), /^Hello again! \d{4}-/);
  assert.equal(
    readFileSync(path.join(host.root, 'etc/systemd/system/hello.service'), 'utf8'),
    readFileSync(path.join(repo, 'deploy/systemd/hello.service'), 'utf8'),
  );
  assert.notEqual(await mainPid(), pid, 'a changed unit restarts the service');
  assert.equal(await hostText(['readlink', '/opt/hello/current']), 'releases/v2');
  assert.match(
    await hostText(['cat', '/opt/hello/revisions.log']),
    /action=rollback version=v2 previous=v3 result=healthy/,
  );
});

test('a login without sudo, or whose sudo wants a password, fails setup at once, naming the command', {
  timeout: 60_000,
}, async () => {
  const started = Date.now();
  const result = await pier(repo, ['setup', '--config', path.join(work, 'fleet-users.yml')]);
  assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}`);
  for (const [user, dir] of [
    ['nosudo', '/opt/nosudo'],
    ['pwuser', '/opt/pwuser'],
  ]) {
    assert.ok(
      result.stdout.includes(
        `1 host: ${dir} writable by ${user}: sudo -n refused \`/usr/bin/install -d -o ${user} ${dir}\``,
      ),
      result.stdout,
    );
  }
  assert.ok(Date.now() - started < 30_000, 'no password prompt was waited on');
  assert.equal((await host.exec(['test', '-e', '/opt/nosudo'])).code, 1);
});
