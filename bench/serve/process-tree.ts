// Resident memory and CPU time of a process and all its descendants, read from /proc.
import { readdirSync, readFileSync } from 'node:fs';

function children(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      map.set(ppid, [...(map.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  return map;
}

export function rssOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  } catch {
    return 0;
  }
}

function treeSum(root: number, of: (pid: number) => number): number {
  const tree = children();
  let total = 0;
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop() ?? 0;
    total += of(pid);
    stack.push(...(tree.get(pid) ?? []));
  }
  return total;
}

export function treeRss(root: number): number {
  return treeSum(root, rssOf);
}

// /proc counts CPU time in clock ticks: 100 per second on Linux (sysconf(_SC_CLK_TCK)).
const ticksPerSecond = 100;

/** User plus system CPU seconds used so far by a process (its own threads, not its children). */
export function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat; `fields` starts at field 3.
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return 0;
  }
}

/** CPU seconds used by a process and all its live descendants. */
export function treeCpu(root: number): number {
  return treeSum(root, cpuOf);
}
