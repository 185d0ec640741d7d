// Carries one sd_notify datagram to systemd. Node has no AF_UNIX datagram sockets, so the
// `unix-dgram` addon (an optional dependency) does it from this very process, which is what
// NotifyAccess=main requires. Without the addon, or for an abstract address (the addon copies
// the path as a C string, so a leading NUL cannot pass through it), `systemd-notify --no-block`
// sends it instead; systemd only accepts that with NotifyAccess=all, as the sender is another pid.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import type { NotifyAddress } from './notify-message.js';

export interface NotifyTransport {
  readonly kind: 'datagram' | 'systemd-notify';
  /** Resolves once sent; rejects with an errno-style error (`code`) when it cannot be. */
  send(message: string): Promise<void>;
  close(): void;
}

interface DatagramSocket {
  on(event: 'error', listener: (err: Error) => void): void;
  send(buf: Buffer, offset: number, length: number, path: string, callback: (err?: Error) => void): void;
  close(): void;
}
interface UnixDgram {
  createSocket(type: 'unix_dgram'): DatagramSocket;
}

let addon: UnixDgram | null | undefined;

/** The addon, or null when it is not installed or did not build. */
export function loadUnixDgram(): UnixDgram | null {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)('unix-dgram') as UnixDgram;
    } catch {
      addon = null;
    }
  }
  return addon;
}

export function datagramTransport(dgram: UnixDgram, address: NotifyAddress): NotifyTransport {
  let socket: DatagramSocket | undefined;
  return {
    kind: 'datagram',
    send(message) {
      if (!socket) {
        socket = dgram.createSocket('unix_dgram');
        // The addon reports a failure to the callback and, for some, as an event too, which
        // would throw unhandled: the callback is where it is handled.
        socket.on('error', () => {});
      }
      const buf = Buffer.from(message);
      return new Promise((resolve, reject) => {
        socket?.send(buf, 0, buf.length, address.path, (err) => (err ? reject(errnoError(err)) : resolve()));
      });
    },
    close() {
      socket?.close();
      socket = undefined;
    },
  };
}

// The addon's errors carry `-errno` numbers as their code; name them as Node does (ENOENT).
function errnoError(err: Error): Error {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'number') return err;
  const name = Object.entries(constants.errno).find(([, value]) => value === -code)?.[0];
  return Object.assign(new Error(`sendmsg: ${name ?? code}`), { code: name ?? String(code) });
}

/** The fallback's command line, as data. */
export function systemdNotifyCommand(message: string): string[] {
  return ['systemd-notify', '--no-block', ...message.split('\n')];
}

export function commandTransport(
  address: NotifyAddress,
  env: Record<string, string | undefined>,
): NotifyTransport {
  const notifySocket = address.abstract ? `@${address.path.slice(1)}` : address.path;
  return {
    kind: 'systemd-notify',
    send(message) {
      const [program = '', ...args] = systemdNotifyCommand(message);
      return new Promise((resolve, reject) => {
        const child = spawn(program, args, {
          stdio: 'ignore',
          env: { PATH: env.PATH ?? '/usr/bin:/bin', NOTIFY_SOCKET: notifySocket },
        });
        child.once('error', reject);
        child.once('exit', (code) =>
          code === 0
            ? resolve()
            : reject(Object.assign(new Error(`systemd-notify exited with ${code}`), { code: 'ENOTIFY' })),
        );
      });
    },
    close() {},
  };
}

export function openTransport(
  address: NotifyAddress,
  env: Record<string, string | undefined>,
): NotifyTransport {
  const dgram = address.abstract ? null : loadUnixDgram();
  return dgram ? datagramTransport(dgram, address) : commandTransport(address, env);
}
