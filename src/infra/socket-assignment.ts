// Which configured socket takes which descriptor systemd passed, without I/O.
//
// In an ini file a socket option names an activated descriptor with `fd:`:
//   socket = fd:uwsgi      the descriptor named `uwsgi` (FileDescriptorName=uwsgi in the .socket)
//   http-socket = fd:3     descriptor 3, the first passed one
// A socket given as an address (`127.0.0.1:9000`, `:9090`, `/run/app.sock`) takes the passed
// descriptor bound to that same address when there is one (so one prod.ini serves with and
// without the .socket unit), else pier binds it itself. Every passed descriptor must be taken:
// a .socket unit and an ini that disagree are an error naming both, not a silently dead port.
import { InfraError } from './errors.js';
import type { ActivatedSocket } from './socket-activation.js';

export interface ConfiguredSocket {
  /** The option, e.g. `socket`, `http-socket`, `fastcgi-socket`. */
  option: string;
  /** As written: an address or `fd:NAME` / `fd:N`. */
  value: string;
  /** Where it was written, e.g. `prod.ini:4`, for messages. */
  where?: string;
}

/** A passed descriptor, with the address it is bound to when known (`host:port` or a path). */
export type ProbedSocket = ActivatedSocket & { address?: string };

export type FdReference = { fd: number } | { name: string };

/** `fd:3` → { fd: 3 }, `fd:web` → { name: 'web' }, anything else → undefined (an address). */
export function parseFdReference(value: string): FdReference | undefined {
  const match = /^fd:(.*)$/.exec(value);
  if (!match) return undefined;
  const ref = match[1] ?? '';
  if (/^\d+$/.test(ref)) return { fd: Number(ref) };
  if (/^[A-Za-z0-9_.-]{1,255}$/.test(ref)) return { name: ref };
  throw new InfraError('SOCKET_FD', `"${value}" is not fd:NUMBER or fd:NAME`, {
    hint: 'NAME is the FileDescriptorName= of the .socket unit: letters, digits, _ . -',
  });
}

export interface Assignment {
  socket: ConfiguredSocket;
  /** The passed descriptor to serve on; undefined → bind the address. */
  fd: number | undefined;
}

export function assignActivatedSockets(configured: ConfiguredSocket[], passed: ProbedSocket[]): Assignment[] {
  const taken = new Map<number, ConfiguredSocket>();
  const assignments = configured.map((socket): Assignment => {
    const ref = parseFdReference(socket.value);
    const match = ref
      ? passed.find((p) => ('fd' in ref ? p.fd === ref.fd : p.name === ref.name))
      : byAddress(socket, passed);
    if (ref && !match) {
      throw new InfraError(
        'SOCKET_FD',
        `${label(socket)}: no such socket from systemd; it passed ${describePassed(passed)}`,
        {
          hint: 'match the name to FileDescriptorName= in the .socket unit, or start the service through it',
        },
      );
    }
    if (!match) return { socket, fd: undefined };
    const other = taken.get(match.fd);
    if (other)
      throw new InfraError('SOCKET_FD', `${label(socket)} and ${label(other)} both take fd ${match.fd}`);
    taken.set(match.fd, socket);
    return { socket, fd: match.fd };
  });
  const unused = passed.filter((p) => !taken.has(p.fd));
  if (unused.length > 0) {
    const takers = assignments.filter((a) => a.fd !== undefined).map((a) => label(a.socket));
    throw new InfraError(
      'SOCKET_COUNT',
      `systemd passed ${passed.length} socket(s) (LISTEN_FDS=${passed.length}: ${describePassed(passed)}) but the config takes ${takers.length} (${takers.join(', ') || 'none'}); unused: ${describePassed(unused)}`,
      {
        hint: 'give each ListenStream= of the .socket unit a socket option in the ini (e.g. socket = fd:NAME)',
      },
    );
  }
  return assignments;
}

function byAddress(socket: ConfiguredSocket, passed: ProbedSocket[]): ProbedSocket | undefined {
  const wanted = normalizeAddress(socket.value);
  return passed.find((p) => p.address !== undefined && normalizeAddress(p.address) === wanted);
}

// `:9000` means every interface, which is how the kernel reports 0.0.0.0 and [::].
function normalizeAddress(address: string): string {
  return address.replace(/^(0\.0\.0\.0|\[::\]|::)?:(\d+)$/, '*:$2');
}

function label(socket: ConfiguredSocket): string {
  return `${socket.where ? `${socket.where}: ` : ''}${socket.option} = ${socket.value}`;
}

function describePassed(passed: ProbedSocket[]): string {
  if (passed.length === 0) return 'none';
  return passed.map((p) => `fd ${p.fd} "${p.name}"${p.address ? ` ${p.address}` : ''}`).join(', ');
}
