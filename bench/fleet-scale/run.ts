// Benchmark (not a test): `pier deploy` to thousands of simulated hosts against the SSH floor.
//
//   npm run bench:fleet-scale -- [--hosts 1000]        (as root: it runs sshd and useradd)
//
// One sshd answers on every 127.1.y.z address; each address is a host with its own deploy_to,
// five data centers, canary 1, window 10%, all data centers at once (fleet-file.ts). The bench
// times `pier release v1` and `pier deploy v1` (a first deploy), then `pier deploy v2` (the next
// release, as every later deploy), samples the controller (peak RSS, fds, SSH
// connections; controller-meter.ts), counts its TCP bytes (socket-meter.ts) and the longest time
// its output stayed silent. Then the floor: the same hosts, one ssh2 handshake and one `true` each,
// 64 at a time (ssh-floor.ts); and the programs floor: the same, each host running the programs
// of a first deploy in that one session (programs-floor.ts), what the hosts' CPU cannot go below
// for any deploy made of these programs. The hosts' deploy_to are on a journaled ext4 the bench mounts
// (host-fs.ts). Prints the figures and the ratio and writes
// bench/results/fleet-scale-<time>.json. Everything it made (sshd, the apps, the health server,
// the user, the files) is removed at the end, after a failure and on Ctrl-C.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { type AppRepo, createAppRepo } from '../../test/helpers/fleet-app.js';
import { createLoopbackFleet, type LoopbackFleet } from '../../test/helpers/loopback-fleet.js';
import { freePort } from '../../test/helpers/net.js';
import { pierBin, repoRoot } from '../../test/helpers/paths.js';
import { busyPercent, ControllerMeter, type MeterSummary, machineCpu } from './controller-meter.js';
import { datacenters, fleetYaml, handshakeConcurrency, rollout } from './fleet-file.js';
import { mountHostsFs } from './host-fs.js';
import { artifactServer, programsScript } from './programs-floor.js';
import type { SocketTotals } from './socket-meter.js';
import { sshFloor } from './ssh-floor.js';

function hostCount(): number {
  const at = process.argv.indexOf('--hosts');
  if (at === -1) return 1000;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1 || value > 62_500) {
    process.stderr.write(
      `error: --hosts: expected a whole number from 1 to 62500, got ${process.argv[at + 1]}\n`,
    );
    process.exit(2);
  }
  return value;
}

interface Line {
  ms: number;
  text: string;
}

/** The longest stretch without output, from the start to the exit, and the line that ended it. */
function longestSilence(
  lines: readonly Line[],
  endMs: number,
): { ms: number; before: string; after: string } {
  let best = { ms: 0, before: '(end)', after: '(start)' };
  let previous = { ms: 0, text: '(start)' };
  for (const line of [...lines, { ms: endMs, text: '(exit)' }]) {
    if (line.ms - previous.ms > best.ms)
      best = { ms: line.ms - previous.ms, before: line.text, after: previous.text };
    previous = line;
  }
  return best;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

const hosts = hostCount();
if (process.getuid?.() !== 0) {
  process.stderr.write('error: the fleet-scale bench runs sshd and useradd: run it as root\n');
  process.exit(2);
}

const cleanups: Array<() => void> = [];
let pier: ChildProcess | undefined;
const cleanupAll = () => {
  if (pier?.pid !== undefined && pier.exitCode === null && pier.signalCode === null) pier.kill('SIGKILL');
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      cleanup();
    } catch (err) {
      process.stderr.write(`fleet-scale: cleanup: ${(err as Error).message}\n`);
    }
  }
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nfleet-scale: ${signal}: stopping and removing what the bench made\n`);
    cleanupAll();
    process.exit(130);
  });
}
process.once('exit', cleanupAll);

const health = createServer((_req, res) => {
  healthRequests++;
  res.end('ok\n');
});
let healthRequests = 0;
cleanups.push(() => {
  health.closeAllConnections();
  health.close();
});
await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
const healthPort = (health.address() as { port: number }).port;

const dir = mkdtempSync(path.join(os.tmpdir(), 'pier-scale-'));
cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
const hostsFs = mountHostsFs(dir, hosts);
cleanups.push(hostsFs.cleanup);
// The fleet's own directory (its cleanup removes it) on the mounted file system.
const fleetDir = path.join(dir, 'fleet');
mkdirSync(fleetDir);
let app: AppRepo | undefined;
let failed = false;
try {
  const sshPort = await freePort();
  const setupStart = Date.now();
  const fleet: LoopbackFleet = await createLoopbackFleet(fleetDir, hosts, datacenters, sshPort, (cleanup) =>
    cleanups.push(cleanup),
  );
  app = createAppRepo();
  const repo = app;
  cleanups.push(() => repo.cleanup());
  app.commit('v1');
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    fleetYaml(fleet, `http://127.0.0.1:${healthPort}/health`),
  );
  console.log(
    `fleet-scale: ${hosts} hosts in ${Math.min(hosts, datacenters.length)} data centers on 127.1.x.y, sshd on port ${sshPort}, user ${fleet.user}, deploy_to on ${hostsFs.description} (set up in ${seconds(Date.now() - setupStart)})`,
  );

  const releaseStart = process.hrtime.bigint();
  const release = spawnSync(process.execPath, [pierBin, 'release', 'v1'], { cwd: app.dir, encoding: 'utf8' });
  const releaseMs = Number(process.hrtime.bigint() - releaseStart) / 1e6;
  if (release.status !== 0) throw new Error(`pier release v1 failed:\n${release.stdout}${release.stderr}`);
  const manifest = JSON.parse(readFileSync(path.join(app.dir, '.pier/releases/v1.json'), 'utf8'));
  console.log(`pier release v1: ${seconds(releaseMs)} (artifact ${manifest.size} bytes)`);

  // The deploy, watched from outside (meter) and from inside (socket meter), its output timed.
  const meterUrl = pathToFileURL(
    path.join(path.dirname(new URL(import.meta.url).pathname), 'socket-meter.js'),
  );
  const lines: Line[] = [];
  const hostsCpuBefore = fleet.sessionsCpuMs();
  const machineBefore = machineCpu();
  const deployStart = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - deployStart) / 1e6;
  const child = spawn(process.execPath, ['--import', meterUrl.href, pierBin, 'deploy', 'v1'], {
    cwd: app.dir,
    env: { ...process.env, PIER_SOCKET_METER_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  pier = child;
  const meter = new ControllerMeter(child.pid as number, sshPort);
  meter.start();
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (text) => {
      lines.push({ ms: since(), text });
      if (process.env.FLEET_SCALE_ECHO) process.stdout.write(`  [${seconds(since())}] ${text}\n`);
    });
  }
  const exitCode = await new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  const deployMs = since();
  const machineBusyDeploy = busyPercent(machineBefore, machineCpu());
  await sleep(50); // the last lines of the pipes
  const controller: MeterSummary = meter.stop();
  let sockets: SocketTotals = {};
  try {
    sockets = JSON.parse(readFileSync(path.join(dir, `meter-${child.pid}.json`), 'utf8'));
  } catch {
    // pier died without running its exit handlers
  }
  const output = lines.map((line) => line.text);
  const outcome = output.find((line) => /deploy v1: /.test(line)) ?? '(no outcome line)';
  const healthy = Number(/(\d+)\/\d+ hosts healthy/.exec(outcome)?.[1] ?? 0);
  const silence = longestSilence(lines, deployMs);
  const appsRunning = fleet.hosts.filter((host) => {
    try {
      const pid = Number(readFileSync(path.join(host.deployTo, 'shared', 'hello.pid'), 'utf8').trim());
      return /sleep/.test(fleet.hostProc(pid, 'cmdline') ?? '');
    } catch {
      return false;
    }
  }).length;
  console.log(`pier deploy v1: ${seconds(deployMs)}, exit ${exitCode}: ${outcome.trim()}`);
  if (exitCode !== 0) {
    failed = true;
    console.log(output.slice(-40).join('\n'));
  }

  // The floor, once sshd has let go of the deploy's sessions.
  const sessionsEnded = async () => {
    for (let waited = 0; waited < 30_000 && fleet.sessions() > 0; waited += 200) await sleep(200);
  };
  await sessionsEnded();
  const hostsCpuDeploy = fleet.sessionsCpuMs() - hostsCpuBefore;

  // The next release to the same hosts: what every deploy after the first costs (the hosts
  // already have the layout, and their answers that are cached, such as the host Node's).
  app.commit('v2');
  const releaseNext = spawnSync(process.execPath, [pierBin, 'release', 'v2'], {
    cwd: app.dir,
    encoding: 'utf8',
  });
  if (releaseNext.status !== 0)
    throw new Error(`pier release v2 failed:\n${releaseNext.stdout}${releaseNext.stderr}`);
  const hostsCpuBeforeNext = fleet.sessionsCpuMs();
  const nextStart = process.hrtime.bigint();
  const next = spawn(process.execPath, [pierBin, 'deploy', 'v2'], {
    cwd: app.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  pier = next;
  let nextOutput = '';
  for (const stream of [next.stdout, next.stderr])
    stream.on('data', (chunk: Buffer) => (nextOutput += chunk.toString()));
  const nextExit = await new Promise<number>((resolve) =>
    next.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  const nextMs = Number(process.hrtime.bigint() - nextStart) / 1e6;
  const nextOutcome = /deploy v2: .*/.exec(nextOutput)?.[0] ?? '(no outcome line)';
  console.log(`pier deploy v2: ${seconds(nextMs)}, exit ${nextExit}: ${nextOutcome}`);
  if (nextExit !== 0) {
    failed = true;
    // The hosts that failed and why: the lines other than the progress bars.
    const said = nextOutput.split('\n').filter((line) => line.trim() !== '' && !/\[[#-]+\]/.test(line));
    console.log(said.slice(-60).join('\n'));
    // What a failed host's app said, before the cleanup removes it.
    for (const log of new Set(nextOutput.match(/\/\S+\/shared\/log\/\S+\.log/g) ?? [])) {
      try {
        console.log(
          `--- ${log} (last 20 lines)\n${readFileSync(log, 'utf8').split('\n').slice(-21).join('\n')}`,
        );
      } catch (err) {
        console.log(`--- ${log}: ${(err as Error).message}`);
      }
    }
  }
  await sessionsEnded();
  const hostsCpuNext = fleet.sessionsCpuMs() - hostsCpuBeforeNext;
  // One ssh2 session per host, each running `command` (default `true`), 64 at a time; with the
  // machine's busy share and the hosts' CPU over the run.
  const privateKey = readFileSync(fleet.identity);
  const sessionsRun = async (command?: (host: (typeof fleet.hosts)[number]) => string) => {
    const machineBefore = machineCpu();
    const hostsCpuBefore = fleet.sessionsCpuMs();
    const run = await sshFloor(
      fleet.hosts.map((host) => ({
        address: host.address,
        port: sshPort,
        user: fleet.user,
        privateKey,
        hostKey: fleet.hostKey,
        command: command?.(host),
      })),
      handshakeConcurrency,
    );
    const machineBusy = busyPercent(machineBefore, machineCpu());
    await sessionsEnded();
    return { ...run, machineBusy, hostsCpu: fleet.sessionsCpuMs() - hostsCpuBefore };
  };
  const floor = await sessionsRun();
  const machineBusyFloor = floor.machineBusy;
  const hostsCpuFloor = floor.hostsCpu;

  // The programs floor (programs-floor.ts): the programs of a first deploy on each host, in one
  // SSH session per host, nothing between them; the same library and concurrency as the floor.
  const relay = await artifactServer(
    readFileSync(path.join(app.dir, '.pier', 'artifacts', `${manifest.sha256}.tar.gz`)),
  );
  cleanups.push(() => {
    relay.server.closeAllConnections();
    relay.server.close();
  });
  const programs = await sessionsRun((host) => programsScript(host.deployTo, relay.port, manifest.sha256));
  const machineBusyPrograms = programs.machineBusy;
  const hostsCpuPrograms = programs.hostsCpu;
  const pierSsh = sockets[String(sshPort)] ?? { connections: 0, bytesWritten: 0, bytesRead: 0 };
  const floorSsh = floor.sockets[String(sshPort)] ?? { connections: 0, bytesWritten: 0, bytesRead: 0 };
  const result = {
    date: new Date().toISOString(),
    hosts,
    datacenters: Math.min(hosts, datacenters.length),
    cpus: os.cpus().length,
    node: process.version,
    sshd: spawnSync('/usr/sbin/sshd', ['-V'], { encoding: 'utf8' }).stderr.trim().split(',')[0],
    hostsFs: hostsFs.description,
    rollout,
    handshakeConcurrency,
    artifactBytes: manifest.size,
    release: { wallMs: Math.round(releaseMs) },
    pier: {
      wallMs: Math.round(deployMs),
      exitCode,
      outcome: outcome.trim(),
      healthy,
      appsRunning,
      healthRequests,
      peakRssMb: Number((controller.peakRssKb / 1024).toFixed(1)),
      peakSshConnections: controller.peakSshConnections,
      peakFds: controller.peakFds,
      cpuMs: controller.cpuMs,
      hostsCpuMs: hostsCpuDeploy,
      machineBusyPercent: machineBusyDeploy,
      sshConnectionsOpened: pierSsh.connections,
      bytesSentToSsh: pierSsh.bytesWritten,
      bytesReceivedFromSsh: pierSsh.bytesRead,
      maxSilentMs: Math.round(silence.ms),
      maxSilentBetween: [silence.after, silence.before],
      outputLines: lines.length,
      samples: controller.samples,
      outputTail: output.slice(-30),
    },
    floor: {
      wallMs: Math.round(floor.wallMs),
      concurrency: floor.concurrency,
      hostsCpuMs: hostsCpuFloor,
      machineBusyPercent: machineBusyFloor,
      failures: floor.failures.length,
      firstFailures: floor.failures.slice(0, 10),
      bytesSentToSsh: floorSsh.bytesWritten,
      bytesReceivedFromSsh: floorSsh.bytesRead,
    },
    programsFloor: {
      what: 'the programs of a first deploy (programs-floor.ts) in one SSH session per host, same concurrency',
      wallMs: Math.round(programs.wallMs),
      hostsCpuMs: hostsCpuPrograms,
      machineBusyPercent: machineBusyPrograms,
      failures: programs.failures.length,
      firstFailures: programs.failures.slice(0, 10),
      ratioToFloor: Number((programs.wallMs / floor.wallMs).toFixed(2)),
      pierRatioToIt: Number((deployMs / programs.wallMs).toFixed(2)),
    },
    ratio: Number((deployMs / floor.wallMs).toFixed(2)),
    next: {
      wallMs: Math.round(nextMs),
      exitCode: nextExit,
      outcome: nextOutcome,
      hostsCpuMs: hostsCpuNext,
      ratio: Number((nextMs / floor.wallMs).toFixed(2)),
    },
    measures: {
      peakRssMb: 'VmHWM of the pier process, sampled every 200 ms',
      peakSshConnections:
        'ESTABLISHED TCP connections to the bench sshd port, every 200 ms: those two ss runs back to back both list; only pier connects to it during the deploy',
      peakFds: 'entries of /proc/<pier pid>/fd, sampled every 200 ms',
      cpuMs: 'utime+stime of the pier process at the last sample',
      machineBusyPercent:
        'busy share of all cores (/proc/stat) over the run, whatever else the machine was doing',
      hostsCpuMs:
        "CPU of sshd and all it started (sessions, their commands, the apps) during the run: its cpuacct cgroup's usage, read once its sessions ended",
      bytes:
        "Node's socket.bytesWritten/bytesRead of every TCP socket to the sshd port (SSH packets, no TCP/IP headers), summed at close and at exit",
      maxSilentMs:
        "longest time between lines of pier's stdout/stderr (not a TTY), from the start to the exit",
    },
    timeline: controller.timeline.map((s) => [
      Math.round(s.t / 1000),
      Math.round(s.rssKb / 1024),
      s.fds,
      s.sshConnections,
    ]),
    timelineColumns: ['s', 'rssMb', 'fds', 'sshConnections'],
  };
  if (floor.failures.length > 0 || programs.failures.length > 0) failed = true;

  console.log('');
  console.log(
    `hosts                        ${hosts} (${result.datacenters} data centers, ${result.cpus} cores)`,
  );
  console.log(
    `pier deploy                  ${seconds(deployMs)}  (${healthy}/${hosts} healthy, ${appsRunning} apps running)`,
  );
  console.log(
    `floor (ssh2 + true, ${handshakeConcurrency} at once) ${seconds(floor.wallMs)}  (${floor.failures.length} failed)`,
  );
  console.log(`ratio pier/floor             ${result.ratio}x`);
  console.log(
    `programs floor               ${seconds(programs.wallMs)} (${programs.failures.length} failed): ${result.programsFloor.ratioToFloor}x the floor; pier ${result.programsFloor.pierRatioToIt}x it; hosts' CPU ${seconds(hostsCpuPrograms)}`,
  );
  console.log(
    `next release (v2)            ${seconds(nextMs)}, ratio ${result.next.ratio}x, hosts' CPU ${seconds(hostsCpuNext)}`,
  );
  console.log(`controller peak RSS          ${result.pier.peakRssMb} MB`);
  console.log(
    `peak SSH connections         ${controller.peakSshConnections} (opened ${pierSsh.connections})`,
  );
  console.log(`peak fds                     ${controller.peakFds}`);
  console.log(`controller CPU               ${seconds(controller.cpuMs)}`);
  console.log(`machine CPU busy             pier ${machineBusyDeploy}%, floor ${machineBusyFloor}%`);
  console.log(
    `hosts' CPU (sshd sessions)   pier ${seconds(hostsCpuDeploy)}, floor ${seconds(hostsCpuFloor)}`,
  );
  console.log(
    `bytes to / from sshd         pier ${mb(pierSsh.bytesWritten)} / ${mb(pierSsh.bytesRead)}, floor ${mb(floorSsh.bytesWritten)} / ${mb(floorSsh.bytesRead)}`,
  );
  console.log(`longest silence              ${seconds(silence.ms)} (after "${silence.after}")`);
  for (const failure of floor.failures.slice(0, 5)) console.log(`floor failure: ${failure}`);
  for (const failure of programs.failures.slice(0, 5)) console.log(`programs floor failure: ${failure}`);

  const out = path.join(
    repoRoot,
    'bench',
    'results',
    `fleet-scale-${result.date.replace(/[:.]/g, '-')}.json`,
  );
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`written: ${path.relative(repoRoot, out)}`);
  const log = fleet.sshdLog().trim();
  if (log) console.log(`sshd said:\n${log.split('\n').slice(-10).join('\n')}`);
} catch (err) {
  failed = true;
  process.stderr.write(`fleet-scale: ${(err as Error).stack ?? err}\n`);
} finally {
  cleanupAll();
}
process.exit(failed ? 1 : 0);
