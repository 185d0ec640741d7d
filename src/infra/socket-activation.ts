// Socket activation (sd_listen_fds(3)), without I/O: which listening sockets systemd passed
// this process. systemd sets LISTEN_FDS=n (the sockets are fds 3 .. 3+n-1), LISTEN_PID (the
// process they are meant for: a child that inherited the variables must leave them alone) and
// LISTEN_FDNAMES (colon-separated names from FileDescriptorName=, "unknown" when unnamed).
import { InfraError } from './errors.js';

/** The first passed descriptor (SD_LISTEN_FDS_START). */
export const listenFdsStart = 3;

export interface ActivatedSocket {
  fd: number;
  name: string;
}

export interface Activation {
  sockets: ActivatedSocket[];
  /** Why passed sockets were ignored, for one log line; undefined when nothing to say. */
  notice: string | undefined;
}

export function activatedSockets(env: Record<string, string | undefined>, pid: number): Activation {
  const count = env.LISTEN_FDS;
  if (count === undefined || count === '') return { sockets: [], notice: undefined };
  if (!/^\d+$/.test(count)) {
    throw new InfraError(
      'SOCKET_ACTIVATION',
      `LISTEN_FDS=${JSON.stringify(count)} is not a number of sockets`,
      {
        hint: 'socket activation sets LISTEN_FDS to a count; unset it to bind the configured sockets',
      },
    );
  }
  if (env.LISTEN_PID !== String(pid)) {
    return {
      sockets: [],
      notice: `LISTEN_FDS=${count} is for pid ${env.LISTEN_PID ?? '(none: LISTEN_PID unset)'}, not this process (${pid}): ignoring the passed sockets`,
    };
  }
  const n = Number(count);
  const names = env.LISTEN_FDNAMES ? env.LISTEN_FDNAMES.split(':') : [];
  if (names.length > 0 && names.length !== n) {
    throw new InfraError(
      'SOCKET_ACTIVATION',
      `LISTEN_FDNAMES names ${names.length} sockets (${env.LISTEN_FDNAMES}) but LISTEN_FDS=${n}`,
      { hint: 'give each ListenStream= of the .socket unit one name, or none' },
    );
  }
  return {
    sockets: Array.from({ length: n }, (_, i) => ({ fd: listenFdsStart + i, name: names[i] || 'unknown' })),
    notice: undefined,
  };
}
