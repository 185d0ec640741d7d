// bench/cgi: one GET per process, as Apache (mod_cgid) runs CGI scripts, for pier's generated
// deploy/apache/www/app.js, a bare `node -e 0` and the seed's Hello as a Python CGI script.
// Rounds alternate between them so that the ratios compare like with like on a noisy machine.
// Prints a table and writes bench/results/cgi-<time>.json. Run with `npm run bench:cgi`.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Apache, startApache } from '../../test/helpers/apache.js';
import { cgiGetEnv } from '../../test/helpers/cgi-env.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const perRound = Number(process.env.BENCH_REQUESTS ?? 20);

interface Target {
  name: string;
  apache: Apache;
  path: string;
  /** The script file, run directly for its CPU time. */
  script: string;
}

interface Row {
  name: string;
  /** Medians over the rounds, per request. */
  wallMs: number;
  cpuMs: number;
  failed: number;
}

/** `ab -c 1`: requests one after another; returns the mean wall time per request and failures. */
function ab(url: string, requests: number): { ms: number; failed: number } {
  const run = spawnSync('ab', ['-q', '-n', String(requests), '-c', '1', url], { encoding: 'utf8' });
  if (run.error) throw new Error(`ab could not run (${run.error.message}): apt-get install apache2-utils`);
  const ms = Number(run.stdout.match(/Time per request:\s+([\d.]+) \[ms\] \(mean\)/)?.[1] ?? Number.NaN);
  const failed =
    Number(run.stdout.match(/Failed requests:\s+(\d+)/)?.[1] ?? 0) +
    Number(run.stdout.match(/Non-2xx responses:\s+(\d+)/)?.[1] ?? 0);
  if (Number.isNaN(ms)) throw new Error(`ab against ${url} failed: ${run.stderr || run.stdout}`);
  return { ms, failed };
}

// mod_cgid does not collect its children's CPU time, so each script's is measured outside
// Apache: run the same way (its shebang, its directory, a CGI environment and no other) by a
// small Python program that reaps each run with wait4(2) and sums its rusage, to the
// microsecond. (/proc's count of reaped children's CPU is in 10 ms ticks: 0.5 ms per run at 20
// runs, too coarse for rows 2 ms apart.) python3 is already needed for the Python CGI row.
const cgiEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', ...cgiGetEnv };
const reapLoop = [
  'import json, os, sys',
  'script, runs, env = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])',
  'null = os.open(os.devnull, os.O_RDWR)',
  'total = 0.0',
  'for _ in range(runs):',
  '    pid = os.posix_spawn(script, [script], env, file_actions=[(os.POSIX_SPAWN_DUP2, null, fd) for fd in (0, 1, 2)])',
  '    _, status, usage = os.wait4(pid, 0)',
  '    total += usage.ru_utime + usage.ru_stime',
  'print(total * 1000 / runs)',
].join('\n');
/** Mean CPU time (user + system, ms) of one run of `script`, over `runs` runs. */
function scriptCpuMs(script: string, runs: number): number {
  // The environment goes as an argument: Python's own (PEP 538) may add LC_CTYPE to os.environ.
  const run = spawnSync('python3', ['-c', reapLoop, script, String(runs), JSON.stringify(cgiEnv)], {
    cwd: path.dirname(script),
    env: { PATH: cgiEnv.PATH },
    encoding: 'utf8',
  });
  const ms = Number(run.stdout.trim());
  if (run.status !== 0 || !Number.isFinite(ms))
    throw new Error(`measuring ${script} failed: ${run.error?.message ?? run.stderr}`);
  return ms;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

// The peers' document root: a bare Node that starts and exits, and the Python script.
const peers = mkdtempSync(path.join(tmpdir(), 'pier-cgi-bench-'));
chmodSync(peers, 0o755);
writeFileSync(
  path.join(peers, '.htaccess'),
  'AddHandler cgi-script .js .cjs .py\nOptions +ExecCGI\n# The bare row prints no head: Apache answers 500.\n',
);
// Node's start-up and nothing else; Apache gets no head and answers 500, which costs it nothing.
writeFileSync(path.join(peers, 'bare.js'), '#!/usr/bin/env -S node -e 0\n', { mode: 0o755 });
// Node's start-up and one write of a complete response: what any Node CGI script pays.
writeFileSync(
  path.join(peers, 'write.js'),
  "#!/usr/bin/env node\nprocess.stdout.write('Content-Type: text/plain\\r\\n\\r\\nHello\\n');\n",
  { mode: 0o755 },
);
// The same response in one write(2) on fd 1 (no stream set up for stdout): the cheapest answer
// a Node script can give (CommonJS: .cjs, where package.json below makes .js ES modules).
writeFileSync(
  path.join(peers, 'write-sync.cjs'),
  "#!/usr/bin/env node\nrequire('node:fs').writeSync(1, 'Content-Type: text/plain\\r\\n\\r\\nHello\\n');\n",
  { mode: 0o755 },
);
// The floor of any Node CGI answering Hello: an ES module that imports the seed's doMagic and
// writes the response by hand, no server code at all.
writeFileSync(path.join(peers, 'package.json'), '{ "type": "module" }\n');
writeFileSync(
  path.join(peers, 'by-hand.js'),
  `#!/usr/bin/env node\nimport { doMagic } from '${path.join(root, 'dist/src/hello/hello.js')}';\n` +
    "process.stdout.write('Content-Type: text/html; charset=utf-8\\r\\n\\r\\n' + doMagic());\n",
  { mode: 0o755 },
);
copyFileSync(path.join(root, 'bench/cgi/hello.py'), path.join(peers, 'hello.py'));
chmodSync(path.join(peers, 'hello.py'), 0o755);

const apaches: Apache[] = [];
try {
  const pierApache = await startApache(path.join(root, 'deploy/apache/www'));
  apaches.push(pierApache);
  const peerApache = await startApache(peers);
  apaches.push(peerApache);
  const targets: Target[] = [
    {
      name: 'pier CGI (deploy/apache/www/app.js)',
      apache: pierApache,
      path: '/',
      script: path.join(root, 'deploy/apache/www/app.js'),
    },
    { name: 'bare node -e 0', apache: peerApache, path: '/bare.js', script: path.join(peers, 'bare.js') },
    {
      name: 'bare node, one write to stdout',
      apache: peerApache,
      path: '/write.js',
      script: path.join(peers, 'write.js'),
    },
    {
      name: 'bare node, one fs.writeSync to fd 1',
      apache: peerApache,
      path: '/write-sync.cjs',
      script: path.join(peers, 'write-sync.cjs'),
    },
    {
      name: 'Node ES module, Hello by hand (no server code)',
      apache: peerApache,
      path: '/by-hand.js',
      script: path.join(peers, 'by-hand.js'),
    },
    {
      name: 'Python CGI (bench/cgi/hello.py)',
      apache: peerApache,
      path: '/hello.py',
      script: path.join(peers, 'hello.py'),
    },
  ];
  const samples = new Map<Target, Array<{ ms: number; cpuMs: number; failed: number }>>();
  for (const target of targets) {
    ab(`${target.apache.url}${target.path}`, 3); // warm-up: page cache, cgid
    samples.set(target, []);
  }
  for (let round = 0; round < rounds; round++) {
    process.stderr.write(`round ${round + 1} of ${rounds}...\n`);
    for (const target of targets) {
      const { ms, failed } = ab(`${target.apache.url}${target.path}`, perRound);
      const cpuMs = scriptCpuMs(target.script, perRound);
      samples.get(target)?.push({ ms, cpuMs, failed });
    }
  }
  const rows: Row[] = targets.map((target) => {
    const runs = samples.get(target) ?? [];
    return {
      name: target.name,
      wallMs: Number(median(runs.map((r) => r.ms)).toFixed(1)),
      cpuMs: Number(median(runs.map((r) => r.cpuMs)).toFixed(1)),
      failed: runs.reduce((sum, r) => sum + r.failed, 0),
    };
  });
  const [pier, bare, write, writeSync, byHand, python] = rows;
  console.log('| CGI script | wall ms/request under Apache mod_cgid | script CPU ms/request |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.wallMs} | ${r.cpuMs} |`);
  const ratio = (a?: number, b?: number): string => (a && b ? (a / b).toFixed(2) : 'n/a');
  const ratios = {
    'pier CGI / bare node -e 0, wall': ratio(pier?.wallMs, bare?.wallMs),
    'pier CGI / bare node -e 0, CPU': ratio(pier?.cpuMs, bare?.cpuMs),
    'pier CGI / bare node with one write, wall': ratio(pier?.wallMs, write?.wallMs),
    'pier CGI / bare node with one fs.writeSync, wall': ratio(pier?.wallMs, writeSync?.wallMs),
    'pier CGI / bare node with one fs.writeSync, CPU': ratio(pier?.cpuMs, writeSync?.cpuMs),
    'pier CGI / Node ES module by hand, wall': ratio(pier?.wallMs, byHand?.wallMs),
    'pier CGI / Python CGI, wall': ratio(pier?.wallMs, python?.wallMs),
    'pier CGI / Python CGI, CPU': ratio(pier?.cpuMs, python?.cpuMs),
  };
  console.log('');
  for (const [name, value] of Object.entries(ratios)) console.log(`${name}: ${value}x`);
  if (pier?.failed || python?.failed)
    console.log(`failed requests: pier ${pier?.failed}, Python ${python?.failed}`);
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  const file = path.join(root, 'bench/results', `cgi-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ rounds, perRound, rows, ratios }, null, 2)}\n`);
  console.log(`written: ${path.relative(root, file)}`);
} finally {
  for (const apache of apaches) await apache.stop();
  rmSync(peers, { recursive: true, force: true });
}
