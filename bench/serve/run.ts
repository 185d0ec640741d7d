// bench/serve: Hello under wrk (-t2 -c64 -d10s, loopback) on pier and its peers, in one run, so
// the ratios compare like with like on a noisy machine. Prints a table and writes
// bench/results/serve-<time>.json. Run with `npm run bench:serve` (not part of npm test);
// `node dist/bench/serve/run.js WORD...` measures only the rows whose names contain a WORD, and
// BENCH_ROUNDS=N measures the rows N times, round after round, and keeps each row's median.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseWrk } from '../../test/helpers/load.js';
import { freePort, waitForPort } from '../../test/helpers/net.js';
import { rssOf, treeCpu, treeRss } from './process-tree.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const here = path.join(root, 'bench/serve');
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 1);
const pier = path.join(root, 'dist/src/cli/main.js');
const helloModule = path.join(root, 'dist/src/hello/hello.js');
const nodeHello = path.join(root, 'dist/bench/serve/node-hello.js');
const nodeListener = path.join(root, 'dist/bench/serve/node-listener.js');
const honoHello = path.join(root, 'dist/bench/serve/hono-hello.js');

interface Row {
  name: string;
  rps: number;
  p50: string;
  p99: string;
  peakRssMb: number;
  masterRssMb?: number;
  /**
   * CPU time the server's processes spent per request, in microseconds, to 0.1: whole
   * microseconds would make a 12.6 against a 13.4 read as 13 against 13.
   */
  cpuUsPerRequest: number;
  non2xx: number;
  errors: number;
}

interface Target {
  name: string;
  /** Starts the server(s) on `port`; returns the processes to stop and the pid to measure. */
  start(
    port: number,
    work: string,
  ): Promise<{ procs: ChildProcess[]; measure: number; master?: number; url?: string; stop?: () => void }>;
}

// How to get a peer that is not installed; a row whose server cannot start is skipped.
const installHints: Record<string, string> = {
  gunicorn: 'pip install gunicorn',
  uwsgi: 'apt-get install uwsgi uwsgi-plugin-python3',
  nginx: 'apt-get install nginx',
};
/** Servers that failed to start (their spawn 'error'), by command. */
const startErrors: string[] = [];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'ignore'] });
  child.on('error', (err) => {
    const hint = installHints[cmd];
    startErrors.push(`${cmd} could not start (${err.message})${hint ? `; install it: ${hint}` : ''}`);
  });
  return child;
}

/** Waits for the port, or fails at once with the reason a server could not start. */
async function waitForServer(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failed = startErrors.shift();
    if (failed) throw new Error(failed);
    try {
      await waitForPort(port, 250);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

function nginxConf(work: string, port: number, upstream: string, fastcgi = false): string {
  const conf = path.join(work, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
pid ${work}/nginx.pid;
error_log ${work}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${work}/client_body;
  proxy_temp_path ${work}/proxy;
  fastcgi_temp_path ${work}/fastcgi;
  uwsgi_temp_path ${work}/uwsgi;
  scgi_temp_path ${work}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
${fastcgi ? `      include /etc/nginx/fastcgi_params;\n      fastcgi_pass backend;\n      fastcgi_keep_conn on;` : `      include /etc/nginx/uwsgi_params;\n      uwsgi_pass ${upstream};`}
    }
  }
  upstream backend { server ${upstream}; keepalive 32; }
}
`,
  );
  return conf;
}

const pierServe = (app: string): string[] => ['--app', app, '--processes', '2', '--disable-logging', 'true'];
const pierHello = pierServe(helloModule);
const uwsgiHello = [
  '--plugin',
  'python3',
  '--chdir',
  here,
  '--wsgi-file',
  'hello.py',
  '--processes',
  '2',
  '--master',
  '--disable-logging',
  '--die-on-term',
];

/** An app server on a loopback port with nginx in front of it (uwsgi_pass or fastcgi_pass). */
function behindNginx(
  name: string,
  protocol: 'uwsgi' | 'fastcgi',
  startApp: (upstream: string) => ChildProcess,
): Target {
  return {
    name,
    async start(port, work) {
      const upstream = `127.0.0.1:${await freePort()}`;
      const app = startApp(upstream);
      await waitForServer(Number(upstream.split(':')[1]), 10_000).catch((err: unknown) => {
        app.kill('SIGKILL');
        throw err;
      });
      const conf = nginxConf(work, port, upstream, protocol === 'fastcgi');
      const nginx = run('nginx', [
        '-c',
        conf,
        '-p',
        work,
        '-e',
        `${work}/nginx-error.log`,
        '-g',
        'daemon off;',
      ]);
      return { procs: [nginx, app], measure: app.pid ?? 0, master: app.pid ?? 0 };
    },
  };
}

/** `pier serve` over HTTP on the bench's port, with `args` after the socket. */
function pierHttp(name: string, args: string[]): Target {
  return {
    name,
    async start(port) {
      const p = run(process.execPath, [pier, 'serve', '--http-socket', `127.0.0.1:${port}`, ...args]);
      return { procs: [p], measure: p.pid ?? 0, master: p.pid ?? 0 };
    },
  };
}

const targets: Target[] = [
  {
    name: 'node:http, 1 process',
    async start(port) {
      const p = run(process.execPath, [nodeHello], { PORT: String(port) });
      return { procs: [p], measure: p.pid ?? 0 };
    },
  },
  {
    name: 'node:cluster, 2 workers',
    async start(port) {
      const p = run(process.execPath, [nodeHello], { PORT: String(port), CLUSTER: '2' });
      return { procs: [p], measure: p.pid ?? 0, master: p.pid ?? 0 };
    },
  },
  pierHttp('pier serve HTTP, Node listener, 2 workers', pierServe(nodeListener)),
  pierHttp('pier serve HTTP, fetch handler, 2 workers', pierHello),
  pierHttp('pier serve HTTP (reuse-port), Node listener, 2 workers', [
    ...pierServe(nodeListener),
    ...['--reuse-port', 'true'],
  ]),
  pierHttp('pier serve HTTP (reuse-port), fetch handler, 2 workers', [...pierHello, '--reuse-port', 'true']),
  {
    name: '@hono/node-server on node:cluster, fetch handler, 2 workers',
    async start(port) {
      const p = run(process.execPath, [honoHello], { PORT: String(port), CLUSTER: '2' });
      return { procs: [p], measure: p.pid ?? 0, master: p.pid ?? 0 };
    },
  },
  {
    name: 'PM2 cluster, 2 workers',
    async start(port, work) {
      const env = { PM2_HOME: path.join(work, 'pm2'), PORT: String(port) };
      const pm2 = path.join(root, 'node_modules/.bin/pm2');
      spawnSync(pm2, ['start', nodeHello, '-i', '2', '--name', 'bench'], {
        env: { ...process.env, ...env },
        stdio: 'ignore',
      });
      const pid = Number(
        spawnSync(pm2, ['pid'], { env: { ...process.env, ...env } })
          .stdout.toString()
          .trim()
          .split('\n')[0],
      );
      const god = Number(readFileSync(path.join(work, 'pm2/pm2.pid'), 'utf8').trim());
      return {
        procs: [],
        measure: god || pid,
        stop: () => spawnSync(pm2, ['kill'], { env: { ...process.env, ...env }, stdio: 'ignore' }),
      };
    },
  },
  {
    name: 'uWSGI --http-socket, Python, 2 processes',
    async start(port) {
      const p = run('uwsgi', ['--http-socket', `127.0.0.1:${port}`, ...uwsgiHello]);
      return { procs: [p], measure: p.pid ?? 0, master: p.pid ?? 0 };
    },
  },
  {
    name: 'gunicorn, 2 sync workers',
    async start(port) {
      const p = run('gunicorn', ['-w', '2', '-b', `127.0.0.1:${port}`, '--chdir', here, 'hello:application']);
      return { procs: [p], measure: p.pid ?? 0, master: p.pid ?? 0 };
    },
  },
  behindNginx('nginx → pier (uwsgi), 2 workers', 'uwsgi', (upstream) =>
    run(process.execPath, [pier, 'serve', '--socket', upstream, ...pierHello]),
  ),
  behindNginx('nginx → pier (uwsgi on libuv handles), 2 workers', 'uwsgi', (upstream) =>
    run(process.execPath, [pier, 'serve', '--socket', upstream, '--gateway-io', 'libuv', ...pierHello]),
  ),
  behindNginx('nginx → pier (uwsgi on net.Socket), 2 workers', 'uwsgi', (upstream) =>
    run(process.execPath, [pier, 'serve', '--socket', upstream, '--gateway-io', 'net', ...pierHello]),
  ),
  behindNginx('nginx → pier (FastCGI, keep-conn), 2 workers', 'fastcgi', (upstream) =>
    run(process.execPath, [pier, 'serve', '--fastcgi-socket', upstream, ...pierHello]),
  ),
  behindNginx('nginx → uWSGI (uwsgi), Python, 2 processes', 'uwsgi', (upstream) =>
    run('uwsgi', ['--socket', upstream, ...uwsgiHello]),
  ),
];

function wrk(url: string, duration: number): string {
  return spawnSync('wrk', ['-t2', '-c64', `-d${duration}s`, '--latency', url], { encoding: 'utf8' }).stdout;
}

async function measure(target: Target): Promise<Row> {
  const work = mkdtempSync(path.join(tmpdir(), 'pier-bench-'));
  const port = await freePort();
  const started = await target.start(port, work).catch((err: unknown) => {
    rmSync(work, { recursive: true, force: true });
    throw err;
  });
  try {
    await waitForServer(port, 20_000);
    const url = started.url ?? `http://127.0.0.1:${port}/`;
    wrk(url, 2); // warm-up: JIT, worker pools, connection setup
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, treeRss(started.measure));
    }, 250);
    const cpuBefore = treeCpu(started.measure);
    const out = await new Promise<string>((resolve) => {
      const child = spawn('wrk', ['-t2', '-c64', `-d${seconds}s`, '--latency', url]);
      let text = '';
      child.stdout.on('data', (d) => {
        text += d;
      });
      child.on('exit', () => resolve(text));
    });
    clearInterval(sampler);
    const cpu = treeCpu(started.measure) - cpuBefore;
    const result = parseWrk(out);
    const percentile = (p: string): string => out.match(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm'))?.[1] ?? '?';
    return {
      name: target.name,
      rps: Math.round(result.requestsPerSecond),
      p50: percentile('50'),
      p99: percentile('99'),
      peakRssMb: Math.round(peak / 1048576),
      ...(started.master ? { masterRssMb: Math.round(rssOf(started.master) / 1048576) } : {}),
      cpuUsPerRequest: result.requests > 0 ? Math.round((cpu * 1e7) / result.requests) / 10 : 0,
      non2xx: result.non2xx,
      errors: result.socketErrors,
    };
  } finally {
    started.stop?.();
    for (const proc of started.procs) proc.kill(proc.spawnfile === 'uwsgi' ? 'SIGINT' : 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const proc of started.procs) if (proc.exitCode === null) proc.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

const only = process.argv.slice(2);
const chosen = targets.filter(
  (target) => only.length === 0 || only.some((part) => target.name.includes(part)),
);
const measured = new Map<Target, Row[]>();
const skipped = new Set<Target>();
for (let round = 1; round <= rounds; round++) {
  for (const target of chosen) {
    if (skipped.has(target)) continue;
    process.stderr.write(
      `measuring ${target.name}${rounds > 1 ? ` (round ${round} of ${rounds})` : ''}...\n`,
    );
    startErrors.length = 0;
    try {
      measured.set(target, [...(measured.get(target) ?? []), await measure(target)]);
    } catch (err) {
      skipped.add(target);
      process.stderr.write(`  skipped: ${target.name} could not be measured: ${(err as Error).message}\n`);
    }
  }
}
const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
/** A row's rounds as one: the round of median req/s, with the median CPU per request of all. */
function combine(runs: Row[]): Row {
  const middle = [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)] as Row;
  return { ...middle, cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)) };
}
const rows: Row[] = chosen.flatMap((target) => {
  const runs = measured.get(target);
  return runs && runs.length > 0 && !skipped.has(target) ? [combine(runs)] : [];
});
const byName = (part: string): Row | undefined => rows.find((row) => row.name.startsWith(part));
const ratio = (a?: Row, b?: Row): string => (a && b && b.rps > 0 ? (a.rps / b.rps).toFixed(2) : 'n/a');
console.log(
  '| server | req/s | p50 | p99 | server CPU µs/req | peak RSS MB | master RSS MB | non-2xx | socket errors |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.name} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.cpuUsPerRequest} | ${r.peakRssMb} | ${r.masterRssMb ?? '-'} | ${r.non2xx} | ${r.errors} |`,
  );
const cpuRatio = (a?: Row, b?: Row): string =>
  a && b && b.cpuUsPerRequest > 0 ? (a.cpuUsPerRequest / b.cpuUsPerRequest).toFixed(2) : 'n/a';
const listener = byName('pier serve HTTP, Node listener');
const fetchApp = byName('pier serve HTTP, fetch handler');
const cluster = byName('node:cluster');
const listenerReusePort = byName('pier serve HTTP (reuse-port), Node listener');
const fetchReusePort = byName('pier serve HTTP (reuse-port), fetch handler');
const hono = byName('@hono/node-server');
const ratios = {
  'pier HTTP (Node listener) / node:cluster': ratio(listener, cluster),
  'pier HTTP (Node listener) / node:cluster, CPU per request': cpuRatio(listener, cluster),
  'pier HTTP (Node listener) / PM2': ratio(listener, byName('PM2')),
  'pier HTTP (fetch) / node:cluster': ratio(fetchApp, cluster),
  'pier HTTP (fetch) / node:cluster, CPU per request': cpuRatio(fetchApp, cluster),
  'pier HTTP (fetch) / PM2': ratio(fetchApp, byName('PM2')),
  'pier HTTP (fetch) / @hono/node-server on node:cluster': ratio(fetchApp, hono),
  'pier HTTP reuse-port (Node listener) / node:cluster': ratio(listenerReusePort, cluster),
  'pier HTTP reuse-port (Node listener) / node:cluster, CPU per request': cpuRatio(
    listenerReusePort,
    cluster,
  ),
  'pier HTTP reuse-port (Node listener) / PM2': ratio(listenerReusePort, byName('PM2')),
  'pier HTTP reuse-port (fetch) / node:cluster': ratio(fetchReusePort, cluster),
  'pier HTTP reuse-port (fetch) / node:cluster, CPU per request': cpuRatio(fetchReusePort, cluster),
  'pier HTTP reuse-port (fetch) / PM2': ratio(fetchReusePort, byName('PM2')),
  'pier HTTP reuse-port (fetch) / @hono/node-server on node:cluster': ratio(fetchReusePort, hono),
  '@hono/node-server on node:cluster / node:cluster': ratio(hono, cluster),
  'pier HTTP (fetch) / node:http': ratio(fetchApp, byName('node:http')),
  'pier HTTP (fetch) / uWSGI http': ratio(fetchApp, byName('uWSGI --http')),
  'pier HTTP (fetch) / gunicorn': ratio(fetchApp, byName('gunicorn')),
  'nginx→pier (uwsgi) / nginx→uWSGI': ratio(byName('nginx → pier (uwsgi)'), byName('nginx → uWSGI')),
  'nginx→pier (uwsgi on libuv handles) / nginx→uWSGI': ratio(
    byName('nginx → pier (uwsgi on libuv'),
    byName('nginx → uWSGI'),
  ),
  'nginx→pier (uwsgi on net.Socket) / nginx→uWSGI': ratio(
    byName('nginx → pier (uwsgi on net'),
    byName('nginx → uWSGI'),
  ),
  'nginx→pier (FastCGI keep-conn) / nginx→uWSGI': ratio(
    byName('nginx → pier (FastCGI'),
    byName('nginx → uWSGI'),
  ),
};
console.log('');
for (const [name, value] of Object.entries(ratios)) console.log(`${name}: ${value}x`);
console.log(`pier master RSS: ${fetchApp?.masterRssMb ?? '?'} MB (target <= 60)`);
mkdirSync(path.join(root, 'bench/results'), { recursive: true });
const file = path.join(root, 'bench/results', `serve-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
const all = Object.fromEntries(chosen.map((target) => [target.name, measured.get(target) ?? []]));
writeFileSync(file, `${JSON.stringify({ seconds, rounds, rows, ratios, roundsByRow: all }, null, 2)}\n`);
console.log(`written: ${path.relative(root, file)}`);
