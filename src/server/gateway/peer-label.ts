// How a front-end names its peer in log lines: `address:port`, or `unix` for a unix socket.

export function peerLabel(
  protocol: string,
  peer: { address?: string | undefined; port?: number | undefined },
): string {
  return `${protocol} ${peer.address ?? 'unix'}${peer.port ? `:${peer.port}` : ''}`;
}
