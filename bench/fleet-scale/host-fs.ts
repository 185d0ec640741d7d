// The simulated hosts' file system: a journaled ext4, as a server's root file system is, made on a
// sparse image and mounted through a loop device for the run. Every host's deploy_to is on it.
//
// Why not the machine's own /tmp: on these machines it is an ext4 without a journal, and there
// the inode allocator skips every inode freed in the last seconds by reading its inode from the
// inode table (fs/ext4/ialloc.c, `recently_deleted`, checked only when there is no journal). Five
// thousand hosts share it, so each file a host creates paid for the files all the others had
// just removed (a lock, a tarball): 5–6% of the whole machine's CPU in a 300-host run (perf
// record -a), growing with the number of hosts. A real host pays only for its own.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const run = (argv: string[]) =>
  execFileSync(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

/**
 * Makes a sparse image beside `dir` (2 MB per host, at least 4 GB; one inode per 8 KiB), puts a
 * journaled ext4 on it and mounts it on `dir`, which must be empty. Returns the cleanup:
 * unmount (which frees the loop device) and remove the image. Throws with mkfs's or mount's
 * message when the machine cannot (no loop devices, not root).
 */
export function mountHostsFs(dir: string, hosts: number): { cleanup: () => void; description: string } {
  const image = `${dir}.img`;
  const bytes = Math.max(4 * 1024 ** 3, hosts * 2 * 1024 ** 2);
  run(['truncate', '-s', String(bytes), image]);
  try {
    run(['/usr/sbin/mkfs.ext4', '-q', '-F', '-i', '8192', image]);
    // noinit_itable: no kernel thread zeroing inode tables in the background during the run.
    run(['mount', '-o', 'loop,noinit_itable', image, dir]);
  } catch (err) {
    rmSync(image, { force: true });
    const said = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`cannot mount the hosts' file system on ${dir}: ${said || (err as Error).message}`);
  }
  return {
    description: `ext4 with a journal, ${(bytes / 1024 ** 3).toFixed(0)} GB sparse image on a loop device`,
    cleanup: () => {
      run(['umount', dir]);
      rmSync(image, { force: true });
    },
  };
}
