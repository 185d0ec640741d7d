// The service manager's view of pier: READY / RELOADING / STOPPING / STATUS / WATCHDOG /
// MAINPID notifications (sd_notify(3)), built from an environment the caller passes in.
// Without NOTIFY_SOCKET every call is a no-op. A socket that cannot be reached costs one
// warning line and then silence: serving matters more than telling systemd about it.
import {
  formatNotifyMessage,
  monotonicUsec,
  type NotifyFields,
  parseNotifyAddress,
  watchdogIntervalMs,
} from './notify-message.js';
import { type NotifyTransport, openTransport } from './notify-transport.js';

export interface NotifierOptions {
  env: Record<string, string | undefined>;
  /** This process's pid (WATCHDOG_PID is compared with it). */
  pid: number;
  /** One line per problem. */
  log: (line: string) => void;
  /** Defaults to the unix-dgram addon, else systemd-notify. */
  transport?: NotifyTransport;
  /** CLOCK_MONOTONIC in ns; defaults to process.hrtime.bigint. */
  clock?: () => bigint;
}

export interface Notifier {
  /** Whether notifications go anywhere (NOTIFY_SOCKET was set and usable). */
  readonly enabled: boolean;
  /** How the datagrams travel: the addon, systemd-notify, or nowhere. */
  readonly transport: NotifyTransport['kind'] | 'none';
  /** The watchdog interval this process must keep (half of WATCHDOG_USEC), if any. */
  readonly watchdogMs: number | undefined;
  ready(status?: string): Promise<void>;
  /** Start of a reload: RELOADING=1 with MONOTONIC_USEC, as Type=notify-reload expects. */
  reloading(status?: string): Promise<void>;
  stopping(status?: string): Promise<void>;
  status(text: string): Promise<void>;
  watchdog(): Promise<void>;
  mainPid(pid: number): Promise<void>;
  send(fields: NotifyFields): Promise<void>;
  /** Ping WATCHDOG=1 every watchdogMs from this event loop (so a stuck loop stops the pings);
   * no-op without a watchdog. The timer does not keep the process alive. */
  startWatchdog(): void;
  /** Stop the watchdog timer and close the socket. */
  close(): void;
}

export function createNotifier(options: NotifierOptions): Notifier {
  const raw = options.env.NOTIFY_SOCKET;
  if (raw === undefined || raw === '') return silentNotifier();
  const address = parseNotifyAddress(raw);
  if ('error' in address) {
    options.log(`sd_notify: ${address.error}; serving without systemd notifications`);
    return silentNotifier();
  }
  const transport = options.transport ?? openTransport(address, options.env);
  const clock = options.clock ?? process.hrtime.bigint;
  const watchdogMs = watchdogIntervalMs(options.env, options.pid);
  let broken = false;
  let queue = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  // Sends run one after another: with systemd-notify each is a child process, and READY after
  // RELOADING must not overtake it.
  const send = (fields: NotifyFields): Promise<void> => {
    const message = formatNotifyMessage(fields);
    queue = queue.then(async () => {
      if (broken) return;
      try {
        await transport.send(message);
      } catch (err) {
        broken = true;
        const code = (err as { code?: unknown }).code ?? (err as Error).message;
        options.log(
          `sd_notify: cannot send to NOTIFY_SOCKET=${raw} (${String(code)}); serving without systemd notifications`,
        );
      }
    });
    return queue;
  };
  const withStatus = (fields: NotifyFields, status: string | undefined): NotifyFields =>
    status === undefined ? fields : { ...fields, STATUS: status };

  return {
    enabled: true,
    transport: transport.kind,
    watchdogMs,
    send,
    ready: (status) => send(withStatus({ READY: 1 }, status)),
    reloading: (status) => send(withStatus({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec(clock()) }, status)),
    stopping: (status) => send(withStatus({ STOPPING: 1 }, status)),
    status: (text) => send({ STATUS: text }),
    watchdog: () => send({ WATCHDOG: 1 }),
    mainPid: (pid) => send({ MAINPID: pid }),
    startWatchdog() {
      if (watchdogMs === undefined || timer) return;
      timer = setInterval(() => void send({ WATCHDOG: 1 }), watchdogMs);
      timer.unref();
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      void queue.then(() => transport.close());
    },
  };
}

function silentNotifier(): Notifier {
  const done = async (): Promise<void> => {};
  return {
    enabled: false,
    transport: 'none',
    watchdogMs: undefined,
    send: done,
    ready: done,
    reloading: done,
    stopping: done,
    status: done,
    watchdog: done,
    mainPid: done,
    startWatchdog() {},
    close() {},
  };
}
