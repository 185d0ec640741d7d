// The tree each systemd test host boots from: the cached debootstrap root (built once by
// scripts/systemd-test-root.sh), an overlay of it per host, the host's own files, and the
// cleanup of what a killed run left behind. Used by nspawn.ts.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './paths.js';

export const systemdRootCache = '/var/cache/pier-test/bookworm';

export interface RootOptions {
  name: string;
  address: string;
  files?: Record<string, { content: string; mode?: number }>;
  binds?: Array<{ source: string; target?: string; readOnly?: boolean }>;
  authorizedKeys?: string[];
}

/** Builds the cached root if it is missing or stale; waits for a build another test started. */
export function ensureSystemdRoot(): string {
  try {
    execFileSync('sh', [path.join(repoRoot, 'scripts/systemd-test-root.sh'), systemdRootCache], {
      stdio: ['ignore', 'inherit', 'pipe'],
    });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`could not build the systemd test root ${systemdRootCache}:\n${stderr}`);
  }
  return systemdRootCache;
}

export function prepareRoot(root: string, options: RootOptions): void {
  const files: Record<string, { content: string; mode?: number }> = {
    '/etc/hostname': { content: `${options.name}\n` },
    // 10-* sorts before the image's own DHCP file for host0, so the static address wins.
    '/etc/systemd/network/10-host0.network': {
      content: `[Match]\nName=host0\n\n[Network]\nAddress=${options.address}\nLinkLocalAddressing=no\n`,
    },
    ...options.files,
  };
  if (options.authorizedKeys) {
    files['/root/.ssh/authorized_keys'] = { content: `${options.authorizedKeys.join('\n')}\n`, mode: 0o600 };
    for (const key of ['rsa', 'ecdsa', 'ed25519']) {
      rmSync(path.join(root, `etc/ssh/ssh_host_${key}_key`), { force: true });
      rmSync(path.join(root, `etc/ssh/ssh_host_${key}_key.pub`), { force: true });
    }
    execFileSync('ssh-keygen', ['-A', '-f', root], { stdio: 'ignore' });
    mkdirSync(path.join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
    execFileSync('ln', [
      '-sfn',
      '/lib/systemd/system/ssh.service',
      path.join(root, 'etc/systemd/system/multi-user.target.wants/ssh.service'),
    ]);
  }
  for (const [file, { content, mode }] of Object.entries(files)) {
    const target = path.join(root, file);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, content, { mode: mode ?? 0o644 });
  }
  for (const bind of options.binds ?? []) {
    // nspawn wants the mount point to exist in the tree.
    const target = path.join(root, bind.target ?? bind.source);
    const isDir = (() => {
      try {
        return execFileSync('stat', ['-c', '%F', bind.source]).toString().includes('directory');
      } catch {
        return true;
      }
    })();
    if (isDir) mkdirSync(target, { recursive: true });
    else {
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, '', { flag: 'a' });
    }
  }
}

// Overlayfs makes a host's tree in no time; a copy is the fallback where it cannot be mounted.
export async function mountRoot(cache: string, work: string): Promise<string> {
  const root = path.join(work, 'root');
  for (const dir of ['root', 'upper', 'work']) mkdirSync(path.join(work, dir));
  try {
    await sh('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${cache},upperdir=${path.join(work, 'upper')},workdir=${path.join(work, 'work')}`,
      root,
    ]);
  } catch {
    await sh('cp', ['-a', '--reflink=auto', `${cache}/.`, root]);
  }
  return root;
}

/** What a killed run left of a host of this name: its nspawn (by the pid it recorded, if that
 * process still runs on that tree), its overlay mount and tree, and its veth. */
export async function removeStaleHosts(name: string): Promise<void> {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(`pier-${name}-`)) continue;
    const work = path.join(tmpdir(), entry);
    const root = path.join(work, 'root');
    try {
      const pid = Number(readFileSync(path.join(work, 'nspawn.pid'), 'utf8'));
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(root)) {
        process.kill(pid, 'SIGKILL');
        await sleep(200);
      }
    } catch {
      // no pid recorded, or that process is gone
    }
    await releaseRoot(root, work);
  }
  await sh('ip', ['link', 'del', `vb-${name}`.slice(0, 15)]).catch(() => '');
}

export async function releaseRoot(root: string, work: string): Promise<void> {
  await sh('umount', [root]).catch(() => {});
  rmSync(work, { recursive: true, force: true });
}

export function sh(program: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(program, args, (err, stdout, stderr) =>
      err ? reject(new Error(`${program} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
