// service.env and env_file under a real systemd (a booted systemd-nspawn Debian, see
// helpers/nspawn.ts): pier installs the drop-in that loads the shared env_file and the release's
// .pier-env, and systemd's EnvironmentFile= parser hands the app a secret with quotes, `$`,
// backquotes, backslashes and newlines byte-exact; the value never shows in the host's ps.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
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

const token = `pier-secret-${randomBytes(6).toString('hex')}`;
const secret = `${token} it's "quoted" $HOME \${PATH} \`id\` back\\slash\nsecond line\n`;
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

// No Environment= here: PORT and the rest come from pier's drop-in.
const unit = `[Unit]
Description=hello (fleet test app)

[Service]
WorkingDirectory=/opt/hello/current
ExecStart=/usr/bin/node server.mjs
# A reload the process survives (it ignores HUP), keeping the environment it started with, as
# a server's chain reload does: only a restart gives it a new one.
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=1
`;

const server = `import http from 'node:http';
import { createHash } from 'node:crypto';
import app from './dist/app.mjs';

const sha = (v) => (v === undefined ? null : createHash('sha256').update(v).digest('hex'));
process.on('SIGHUP', () => {});
http.createServer(async (req, res) => {
  if (req.url === '/env') {
    res.end(JSON.stringify({ secret: sha(process.env.APP_SECRET), dotenv: process.env.DOTENV_VALUE ?? null }));
    return;
  }
  const response = await app.fetch(new Request(\`http://\${req.headers.host}\${req.url}\`));
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}).listen(Number(process.env.PORT ?? 9999), '0.0.0.0');
`;

before(async () => {
  fleet = await createTestFleet({});
  const address = fleet.gateway.replace(/\.1$/, '.201');
  host = await startSystemdHost({
    name: `pisenv${fleet.id}`,
    bridge: fleet.bridge,
    address: `${address}/24`,
    authorizedKeys: [readFileSync(`${fleet.identity}.pub`, 'utf8').trim()],
    binds: [{ source: '/usr/bin/node' }],
    files: {
      '/etc/systemd/system/hello.service': { content: unit },
      '/opt/hello/shared/.env': { content: 'DOTENV_VALUE="from the shared .env"\n' },
    },
  });
  const key = readFileSync(path.join(host.root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8').split(' ');
  appendFileSync(fleet.knownHosts, `web1.sfo,${address} ${key[0]} ${key[1]}\n`);
  app = createAppRepo();
  writeFileSync(path.join(app.dir, 'server.mjs'), server);
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    [
      'app: hello',
      'runtime: host',
      `ssh: { user: root, identity: ${fleet.identity}, known_hosts: ${fleet.knownHosts}, connect_timeout: 5s }`,
      'service:',
      '  manager: systemd',
      '  action: reload',
      '  env_file: .env',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a reference fleet.yml resolves, not JS
      '  env: { PORT: 8080, APP_SECRET: "${PIER_TEST_SECRET}" }',
      'health: { url: "http://127.0.0.1:8080/health", body: "ok {version}", timeout: 6s, interval: 100ms }',
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

test('systemd: the drop-in loads env_file and service.env; a secret arrives byte-exact and stays out of ps', {
  timeout: 180_000,
}, async () => {
  for (const version of ['v1', 'v2']) {
    app.commit(version);
    assert.equal((await pier(app.dir, ['release', version])).code, 0);
  }
  const env = { PIER_TEST_SECRET: secret };
  const first = await pier(app.dir, ['deploy', 'v1'], { env });
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  const url = `http://${host.address}:8080`;
  assert.equal(await fetchText(`${url}/`), 'Hello! from v1');
  assert.deepEqual(JSON.parse(await fetchText(`${url}/env`)), {
    secret: sha(secret),
    dotenv: 'from the shared .env',
  });
  assert.equal(
    readFileSync(path.join(host.root, 'etc/systemd/system/hello.service.d/pier-env.conf'), 'utf8'),
    '# Written by pier: the environment of the release `current` points at (service.env) and\n' +
      '# the shared env_file. Read when the service starts.\n[Service]\n' +
      'EnvironmentFile=/opt/hello/shared/.env\nEnvironmentFile=-/opt/hello/current/.pier-env\n',
  );
  assert.equal((await host.run(['ps', '-eo', 'args'])).includes(token), false, 'the secret is in ps');

  // A new secret with action reload: the environment differs, so pier restarts instead.
  const rotated = `${secret}rotated`;
  const second = await pier(app.dir, ['deploy', 'v2'], { env: { PIER_TEST_SECRET: rotated } });
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.equal(JSON.parse(await fetchText(`${url}/env`)).secret, sha(rotated));
  // The same version again with another secret: a redeploy restarts, so the app has it.
  const again = `${secret}again`;
  const third = await pier(app.dir, ['deploy', 'v2'], { env: { PIER_TEST_SECRET: again } });
  assert.equal(third.code, 0, `${third.stdout}\n${third.stderr}`);
  assert.equal(JSON.parse(await fetchText(`${url}/env`)).secret, sha(again));
});
