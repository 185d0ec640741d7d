// pier deploy to a host with a real systemd (a booted systemd-nspawn Debian, see
// helpers/nspawn.ts) reached over SSH on the test's own bridge: the app runs as a systemd unit
// from /opt/hello/current, activation is `systemctl restart`, rollback and the health gate too.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { fetchText, pier } from './helpers/fleet-cli.js';
import { createTestFleet, type TestFleet } from './helpers/fleet-hosts.js';
import { type SystemdHost, startSystemdHost } from './helpers/nspawn.js';

let fleet: TestFleet;
let host: SystemdHost;
let app: AppRepo;

// The test app's unit: the same shape as deploy/systemd/hello.service (WorkingDirectory is the
// `current` symlink, resolved when the service starts), minus pier serve.
const unit = `[Unit]
Description=hello (fleet test app)

[Service]
WorkingDirectory=/opt/hello/current
ExecStart=/usr/bin/node server.mjs
Environment=PORT=8080
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
`;

before(async () => {
  fleet = await createTestFleet({});
  const address = fleet.gateway.replace(/\.1$/, '.200');
  host = await startSystemdHost({
    name: `pisfl${fleet.id}`,
    bridge: fleet.bridge,
    address: `${address}/24`,
    authorizedKeys: [readFileSync(`${fleet.identity}.pub`, 'utf8').trim()],
    binds: [{ source: '/usr/bin/node' }],
    files: { '/etc/systemd/system/hello.service': { content: unit } },
  });
  const key = readFileSync(path.join(host.root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8').split(' ');
  appendFileSync(fleet.knownHosts, `web1.sfo,${address} ${key[0]} ${key[1]}\n`);
  app = createAppRepo();
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    [
      'app: hello',
      `ssh: { user: root, identity: ${fleet.identity}, known_hosts: ${fleet.knownHosts}, connect_timeout: 5s }`,
      'service: { manager: systemd, name: hello, action: restart }',
      'health: { url: "http://127.0.0.1:8080/health", body: "ok {version}", timeout: 4s, interval: 100ms }',
      'datacenters:',
      '  sfo:',
      `    hosts: [{ name: web1.sfo, address: "${address}" }]`,
      '',
    ].join('\n'),
  );
});

after(async () => {
  await host?.stop();
  await fleet?.cleanup();
  app?.cleanup();
});

const mainPid = async () =>
  (await host.run(['systemctl', 'show', '-p', 'MainPID', '--value', 'hello'])).trim();

test('deploy, redeploy, a failing release and rollback under systemd', { timeout: 180_000 }, async () => {
  const url = `http://${host.address}:8080/`;
  for (const [version, healthy] of [
    ['v1', true],
    ['v2', true],
    ['v3', false],
  ] as const) {
    app.commit(version, { healthy });
    assert.equal((await pier(app.dir, ['release', version])).code, 0);
  }
  const first = await pier(app.dir, ['deploy', 'v1']);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  assert.equal(await fetchText(url), 'Hello! from v1');
  assert.equal((await host.run(['systemctl', 'is-active', 'hello'])).trim(), 'active');
  const v1Pid = await mainPid();

  const second = await pier(app.dir, ['deploy', 'v2']);
  assert.equal(second.code, 0, second.stdout);
  assert.equal(await fetchText(url), 'Hello! from v2');
  const v2Pid = await mainPid();
  assert.notEqual(v2Pid, v1Pid, 'systemctl restart started a new process');
  assert.equal((await host.run(['readlink', `/proc/${v2Pid}/cwd`])).trim(), '/opt/hello/releases/v2');

  const bad = await pier(app.dir, ['deploy', 'v3']);
  assert.equal(bad.code, 1, bad.stdout);
  assert.match(bad.stdout, /answered 500, expected 200 \(back on v2\)/);
  assert.equal(await fetchText(url), 'Hello! from v2');

  const back = await pier(app.dir, ['rollback']);
  assert.equal(back.code, 0, back.stdout);
  assert.equal(await fetchText(url), 'Hello! from v1');
  const log = await host.run(['cat', '/opt/hello/revisions.log']);
  assert.match(log, /action=rollback version=v1 previous=v2 result=healthy/);
});
