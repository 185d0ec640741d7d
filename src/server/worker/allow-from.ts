// Who may speak uwsgi to us: the vars it carries (REMOTE_ADDR, HTTPS...) are trusted, so by
// default only loopback and unix-socket peers are. Entries are addresses or CIDR blocks.
import { BlockList, isIPv4 } from 'node:net';

export function createAllowList(entries: string[]): (remoteAddress: string | undefined) => boolean {
  const list = new BlockList();
  let unix = false;
  for (const entry of entries) {
    if (entry === 'unix') {
      unix = true;
      continue;
    }
    const [address = '', prefix] = entry.split('/');
    const type = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return (remoteAddress) => {
    // Unix-socket peers have no address.
    if (remoteAddress === undefined || remoteAddress === '') return unix;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(remoteAddress)?.[1];
    if (mapped) return list.check(mapped, 'ipv4');
    return list.check(remoteAddress, isIPv4(remoteAddress) ? 'ipv4' : 'ipv6');
  };
}
