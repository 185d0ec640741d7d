// A fleet too big to hold open at once, at a size the test suite can afford: 300 hosts on one
// real sshd (test/helpers/loopback-fleet.ts, as bench/fleet-scale uses at 5,000) plus 16
// unreachable ones, 5% of the fleet: 8 refuse the connection, 8 accept it and never speak (a
// black-holed handshake). With `ssh.max_open: 40` the controller never holds more than 40 SSH
// connections (counted from outside with `ss`, see establishedTogether), every phase prints
// progress (never 5 s of silence), the dead hosts cost one connect_timeout, not one each, and
// their failures are grouped into one line per cause.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { createLoopbackFleet, type LoopbackFleet } from './helpers/loopback-fleet.js';
import { establishedTogether, freePort } from './helpers/net.js';
import { pierBin } from './helpers/paths.js';

const dcs = ['ams', 'fra', 'sfo', 'nyc', 'sgp'];
const cap = 40;
let fleet: LoopbackFleet;
let app: AppRepo;
let dir: string;
let silent: Server;
let silentPort: number;
let closedPort: number;
let health: HttpServer;
let healthPort: number;
const held: Socket[] = [];

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'pif-scale-'));
  fleet = await createLoopbackFleet(dir, 300, dcs, await freePort(), () => {});
  // Accepts and never answers: an SSH handshake there hangs until connect_timeout.
  silent = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as { port: number }).port;
  closedPort = await freePort();
  // One health URL for every host (they all share the loopback), answered here.
  health = createHttpServer((_, res) => res.end('ok'));
  await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
  healthPort = (health.address() as { port: number }).port;
  app = createAppRepo();
  const json = (value: unknown) => JSON.stringify(value);
  // Sixteen hosts behind two ports: each its own deploy_to, or they would be one target twice.
  const dead = [
    ...Array.from({ length: 8 }, (_, i) => ({ name: `refused${i}`, port: closedPort })),
    ...Array.from({ length: 8 }, (_, i) => ({ name: `silent${i}`, port: silentPort })),
  ].map((host) => ({ ...host, address: '127.0.0.1', deploy_to: `/opt/hello-${host.name}` }));
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    [
      'app: hello',
      'runtime: host',
      `ssh: ${json({ user: fleet.user, port: fleet.port, identity: fleet.identity, known_hosts: fleet.knownHosts, agent: false, handshake_concurrency: 16, max_open: cap, connect_timeout: '5s' })}`,
      `service: ${json({ manager: 'none', command: ['sh', '-c', 'exec sleep 600'], stop_timeout: '2s' })}`,
      `health: ${json({ url: `http://127.0.0.1:${healthPort}/`, status: 200, body: 'ok', timeout: '10s' })}`,
      `rollout: ${json({ canary: 1, window: '10%', dc_parallel: 5, stage_window: 30, failure_budget: 16, dc_order: dcs })}`,
      'datacenters:',
      ...dcs.flatMap((dc, index) => [
        `  ${dc}:`,
        '    hosts:',
        ...fleet.hosts
          .filter((host) => host.dc === dc)
          .map(
            (host) => `      - ${json({ name: host.name, address: host.address, deploy_to: host.deployTo })}`,
          ),
        // The dead hosts are at the end of the last data center, after its canary.
        ...(index === dcs.length - 1 ? dead.map((host) => `      - ${json(host)}`) : []),
      ]),
      '',
    ].join('\n'),
  );
});

after(async () => {
  for (const socket of held) socket.destroy();
  silent?.close();
  health?.close();
  fleet?.cleanup();
  app?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('316 hosts under max_open 40: connections bounded, every phase visible, dead hosts grouped', {
  timeout: 600_000,
}, async () => {
  app.commit('v1');
  const release = spawn(process.execPath, [pierBin, 'release', 'v1'], { cwd: app.dir, stdio: 'ignore' });
  assert.equal(await new Promise((resolve) => release.on('close', resolve)), 0);

  const started = Date.now();
  const child = spawn(process.execPath, [pierBin, 'deploy', 'v1'], { cwd: app.dir });
  let stdout = '';
  let lastOutput = Date.now();
  let longestQuiet = 0;
  let quietAfter = '';
  child.stdout.on('data', (chunk: Buffer) => {
    if (Date.now() - lastOutput > longestQuiet) {
      longestQuiet = Date.now() - lastOutput;
      quietAfter = `${stdout.split('\n').slice(-3).join('\n')}[silence]${chunk.toString('utf8').split('\n')[0]}`;
    }
    stdout += chunk.toString('utf8');
    lastOutput = Date.now();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let peak = 0;
  let running = true;
  void exited.then(() => {
    running = false;
  });
  while (running) {
    peak = Math.max(peak, await establishedTogether([fleet.port, silentPort]));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const code = await exited;
  const seconds = (Date.now() - started) / 1000;

  assert.equal(code, 0, stdout);
  assert.match(stdout, /deploy v1: done, 300\/316 hosts healthy/);
  assert.ok(peak > 0 && peak <= cap, `peak SSH connections ${peak}, cap ${cap}`);
  assert.ok(longestQuiet <= 5_000, `silent for ${longestQuiet} ms, here: ${quietAfter}\n${stdout}`);
  // One round trip takes the fleet lock; each host's own lock rides in its first round trip,
  // and a host that is done releases it in its last: there is no pass over the fleet for either.
  assert.doesNotMatch(stdout, /^(lock|unlock):/m);
  // One line per cause, naming the hosts, not one per host.
  assert.match(stdout, /8 hosts: cannot connect: connection refused \(ECONNREFUSED\)\n {4}refused\d/);
  assert.match(stdout, /8 hosts: cannot connect: timed out during the handshake\n {4}silent\d/);
  console.log(
    `# 316 hosts: ${seconds.toFixed(1)} s, peak ${peak} SSH connections, longest quiet ${longestQuiet} ms`,
  );
});
