// The path a unix socket descriptor is bound to. Node reports no address for a unix socket it
// adopted from a descriptor (socket activation), but the kernel's table has it: /proc/net/unix
// rows are `Num RefCount Protocol Flags Type St Inode Path`, found by the socket's inode.
import { readFileSync, readlinkSync } from 'node:fs';

export function unixSocketPath(fd: number): string | undefined {
  try {
    const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
    if (!inode) return undefined;
    for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[6] === inode && fields[7]) return fields[7];
    }
  } catch {
    // Not Linux, or /proc not mounted: the socket can still be named with fd:NAME.
  }
  return undefined;
}
