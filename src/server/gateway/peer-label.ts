// How a front-end names its peer in log lines: `address:port`, or `unix` for a unix socket.

export function peerLabel(
  protocol: string,
  peer: { address?: string | undefined; port?: number | undefined },
): string {
  return `${protocol} ${peer.address ?? 'unix'}${peer.port ? `:${peer.port}` : ''}`;
}

/** The address in a peerLabel, as an access log's first field wants it: `127.0.0.1`, `unix`. */
export function labelAddress(label: string): string {
  return label.replace(/^\S+ /, '').replace(/:\d+$/, '');
}
