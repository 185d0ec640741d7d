// The sd_notify wire format, without I/O: one datagram of `KEY=VALUE` lines sent to the
// address in $NOTIFY_SOCKET (an absolute path, or `@name` for the abstract namespace, where
// the `@` stands for a leading NUL byte), and the watchdog settings systemd passes in the
// environment (WATCHDOG_USEC: the deadline in µs; WATCHDOG_PID: which process must ping).

export type NotifyFields = Record<string, string | number>;

export type NotifyAddress = { path: string; abstract: boolean };

/** `{ READY: 1, STATUS: 'x' }` → `READY=1\nSTATUS=x`. A value is one line: systemd splits on
 * newlines, so a status quoting hostile text must not inject fields of its own. */
export function formatNotifyMessage(fields: NotifyFields): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${String(value).replace(/[\r\n\0]+/g, ' ')}`)
    .join('\n');
}

/** $NOTIFY_SOCKET → where to send, or a reason it cannot be used. */
export function parseNotifyAddress(raw: string): NotifyAddress | { error: string } {
  if (raw.startsWith('@') && raw.length > 1) return { path: `\0${raw.slice(1)}`, abstract: true };
  if (raw.startsWith('/')) return { path: raw, abstract: false };
  return { error: `NOTIFY_SOCKET=${JSON.stringify(raw)} is neither an absolute path nor an @abstract name` };
}

/** How often to send WATCHDOG=1: half the deadline (sd_watchdog_enabled's advice), or
 * undefined when no watchdog is asked of this process. */
export function watchdogIntervalMs(env: Record<string, string | undefined>, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return undefined;
  // systemd sets WATCHDOG_PID to the main pid; a child that inherited the variables must not ping.
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) {
    return undefined;
  }
  return Math.max(1, Math.floor(usec / 2000));
}

/** MONOTONIC_USEC for RELOADING=1: CLOCK_MONOTONIC in µs (process.hrtime reads that clock on Linux). */
export function monotonicUsec(hrtimeNs: bigint): string {
  return (hrtimeNs / 1000n).toString();
}

/** The variables systemd hands the main process only; a master strips them from its workers'
 * environment so app code cannot speak for the service (sd_notify's unset_environment). */
export const systemdOnlyEnvKeys = [
  'NOTIFY_SOCKET',
  'WATCHDOG_USEC',
  'WATCHDOG_PID',
  'LISTEN_FDS',
  'LISTEN_PID',
  'LISTEN_FDNAMES',
] as const;
