// Makes sure the Debian packages the integration tests drive are installed: installs the
// missing ones with apt-get when running as root, otherwise prints the command and fails.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** program the tests run → Debian package that provides it */
const needed = {
  '/usr/sbin/apache2': 'apache2',
  '/usr/sbin/nginx': 'nginx',
  // Third-party gateway clients in front of pier (test/gateway-clients.test.ts).
  '/usr/sbin/lighttpd': 'lighttpd',
  '/usr/sbin/haproxy': 'haproxy',
  '/usr/bin/uwsgi-core': 'uwsgi-core',
  '/usr/sbin/sshd': 'openssh-server',
  '/usr/bin/ssh-keygen': 'openssh-client',
  '/usr/bin/systemd-nspawn': 'systemd-container',
  '/usr/sbin/debootstrap': 'debootstrap',
  '/usr/bin/wrk': 'wrk',
  '/usr/sbin/ip': 'iproute2',
  '/usr/bin/curl': 'curl',
  '/usr/bin/git': 'git',
  '/usr/bin/systemd-analyze': 'systemd',
  '/usr/bin/systemd-notify': 'systemd',
  '/usr/bin/python3': 'python3',
  '/usr/bin/prlimit': 'util-linux',
  // Login shells a fleet host may have: remote scripts must run the same under each.
  '/usr/bin/fish': 'fish',
  '/usr/bin/tcsh': 'tcsh',
  '/usr/bin/sudo': 'sudo',
  // The browser the dashboard test drives (playwright-core never downloads one).
  '/usr/bin/chromium': 'chromium',
};

const missing = [
  ...new Set(
    Object.entries(needed)
      .filter(([program]) => !existsSync(program))
      .map(([, pkg]) => pkg),
  ),
];
if (missing.length === 0) process.exit(0);

const command = ['apt-get', 'install', '-y', '--no-install-recommends', ...missing];
if (process.getuid?.() !== 0) {
  console.error(`missing Debian packages for the tests: ${missing.join(', ')}`);
  console.error(`run as root: apt-get update && ${command.join(' ')}`);
  process.exit(1);
}
console.error(`installing Debian packages for the tests: ${missing.join(', ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
const result = spawnSync(command[0], command.slice(1), { stdio: 'inherit', env });
process.exit(result.status ?? 1);
