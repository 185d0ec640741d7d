// Benchmark (not a test): the same deploy, on the same hosts, by Debian's Ansible and by
// `pier deploy`. Steps for both: copy the artifact, unpack it into releases/<version>, switch
// the `current` symlink, restart the app, check its health over HTTP on the host.
//
//   npm run build && node dist/bench/deploy/run.js [--hosts 9]
//
// Ansible runs with forks >= hosts, pipelining on, no fact gathering (not a step pier has
// either) and strict host keys; pier with no canary and a window of all hosts, every data
// center at once (Ansible's linear strategy has neither). Prints both wall times and the ratio
// and writes bench/results/deploy-<time>.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAppRepo } from '../../test/helpers/fleet-app.js';
import { createTestFleet } from '../../test/helpers/fleet-hosts.js';
import { pierBin, repoRoot } from '../../test/helpers/paths.js';

const flag = process.argv.indexOf('--hosts');
const hostCount = flag === -1 ? 9 : Number(process.argv[flag + 1]);
const perDc = Math.ceil(hostCount / 3);

function timed(
  argv: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): { ms: number; out: string } {
  const start = process.hrtime.bigint();
  const result = spawnSync(argv[0] as string, argv.slice(1), {
    cwd,
    env,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return { ms, out: result.stdout };
}

const fleet = await createTestFleet({ ams: perDc, fra: perDc, sfo: hostCount - 2 * perDc });
const app = createAppRepo();
try {
  app.commit('v1');
  timed([process.execPath, pierBin, 'release', 'v1'], app.dir);
  const manifest = JSON.parse(
    execFileSync('cat', [path.join(app.dir, '.pier/releases/v1.json')], { encoding: 'utf8' }),
  );
  const artifact = path.join(app.dir, '.pier', manifest.artifact);

  // Ansible: the same steps into /opt/hello-ansible, app on port 8081.
  const work = path.join(fleet.dir, 'ansible');
  mkdirSync(work);
  writeFileSync(
    path.join(work, 'inventory.ini'),
    [
      '[web]',
      ...fleet.hosts.map((h) => `${h.name} ansible_host=${h.address}`),
      '[web:vars]',
      'ansible_user=root',
      `ansible_ssh_private_key_file=${fleet.identity}`,
      `ansible_ssh_common_args='-o UserKnownHostsFile=${fleet.knownHosts} -o StrictHostKeyChecking=yes'`,
      'ansible_python_interpreter=/usr/bin/python3',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(work, 'ansible.cfg'),
    [
      '[defaults]',
      `forks = ${Math.max(hostCount, 5)}`,
      'gathering = explicit',
      'host_key_checking = True',
      'stdout_callback = default',
      '[ssh_connection]',
      'pipelining = True',
      '',
    ].join('\n'),
  );
  const root = '/opt/hello-ansible';
  const pid = `${root}/shared/hello.pid`;
  writeFileSync(
    path.join(work, 'deploy.yml'),
    `- hosts: web
  vars:
    version: v1
    root: ${root}
  tasks:
    - name: directories
      file: { path: "{{ root }}/releases/{{ version }}", state: directory }
    - name: shared
      file: { path: "{{ root }}/shared/log", state: directory }
    - name: copy the artifact
      copy: { src: "${artifact}", dest: "{{ root }}/releases/{{ version }}.tar.gz" }
    - name: unpack
      unarchive: { src: "{{ root }}/releases/{{ version }}.tar.gz", dest: "{{ root }}/releases/{{ version }}", remote_src: true }
    - name: switch current
      command: sh -c 'ln -sfn releases/{{ version }} {{ root }}/current.tmp && mv -T {{ root }}/current.tmp {{ root }}/current'
    - name: restart
      command: sh -c 'start-stop-daemon --stop --quiet --oknodo --pidfile ${pid} --remove-pidfile --retry TERM/2/KILL/5 && start-stop-daemon --start --quiet --background --make-pidfile --pidfile ${pid} --chdir {{ root }}/current --output {{ root }}/shared/log/hello.log --startas /usr/bin/env -- PORT=8081 node server.mjs'
    - name: health
      uri: { url: "http://127.0.0.1:8081/health", status_code: 200, return_content: true }
      register: health
      until: health.status == 200 and ('ok ' + version) in health.content
      retries: 40
      delay: 0.25
`,
  );
  const ansibleEnv = { ...process.env, ANSIBLE_CONFIG: path.join(work, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1' };
  const ansible = timed(['ansible-playbook', '-i', 'inventory.ini', 'deploy.yml'], work, ansibleEnv);
  if (!/failed=0/.test(ansible.out) || /unreachable=[1-9]/.test(ansible.out))
    throw new Error(`ansible run failed:\n${ansible.out}`);

  // pier: /opt/hello, port 8080, every host in flight at once.
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    fleet.fleetYaml({
      rollout: { canary: 0, window: '100%', dc_parallel: 3, failure_budget: 0, stage_window: 64 },
    }),
  );
  const pier = timed([process.execPath, pierBin, 'deploy', 'v1'], app.dir);
  if (!/done, \d+\/\d+ hosts healthy/.test(pier.out)) throw new Error(`pier deploy failed:\n${pier.out}`);

  for (const host of fleet.hosts) {
    for (const port of [8080, 8081]) {
      const body = await (await fetch(`http://${host.address}:${port}/`)).text();
      if (body !== 'Hello! from v1') throw new Error(`${host.name}:${port} answered ${body}`);
    }
  }
  const ansibleVersion = execFileSync('ansible', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  const result = {
    date: new Date().toISOString(),
    hosts: hostCount,
    cpus: os.cpus().length,
    ansible: {
      version: ansibleVersion,
      forks: Math.max(hostCount, 5),
      pipelining: true,
      wallMs: Math.round(ansible.ms),
    },
    pier: { wallMs: Math.round(pier.ms), policy: 'canary 0, window 100%, dc_parallel 3, relay distribution' },
    ratio: Number((pier.ms / ansible.ms).toFixed(3)),
  };
  console.log(
    `hosts: ${hostCount} in 3 data centers (network namespaces on one ${os.cpus().length}-core machine)`,
  );
  console.log(
    `ansible-playbook (${ansibleVersion}, forks ${result.ansible.forks}, pipelining): ${result.ansible.wallMs} ms`,
  );
  console.log(`pier deploy: ${result.pier.wallMs} ms`);
  console.log(`ratio pier/ansible: ${result.ratio}x (target <= 0.2x)`);
  const out = path.join(repoRoot, 'bench', 'results', `deploy-${result.date.replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`written: ${path.relative(repoRoot, out)}`);
} finally {
  await fleet.cleanup();
  app.cleanup();
}
