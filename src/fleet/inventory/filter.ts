// --dc and --hosts: narrowing a fleet to some data centers or hosts. Host patterns are names,
// ranges (web[001:010].ams.example.net) or globs (web*.ams.*).
import { FleetError } from '../errors.js';
import { expandHostRange } from './host-range.js';
import type { Datacenter, Fleet } from './inventory.js';

export interface Selection {
  dcs?: readonly string[] | undefined;
  hosts?: readonly string[] | undefined;
}

export function selectHosts(fleet: Fleet, selection: Selection): Datacenter[] {
  const dcs = selection.dcs?.filter(Boolean) ?? [];
  for (const name of dcs) {
    if (!fleet.datacenters.some((dc) => dc.name === name)) {
      throw new FleetError('FLEET_UNKNOWN_DC', `unknown data center "${name}"`, {
        hint: `the fleet has: ${fleet.datacenters.map((dc) => dc.name).join(', ')}`,
        exitCode: 2,
      });
    }
  }
  const matchers = (selection.hosts ?? [])
    .filter(Boolean)
    .flatMap((pattern) => expandHostRange(pattern).map(glob));
  const picked = fleet.datacenters
    .filter((dc) => dcs.length === 0 || dcs.includes(dc.name))
    .map((dc) => ({
      ...dc,
      hosts: dc.hosts.filter(
        (host) => matchers.length === 0 || matchers.some((m) => m.test(host.name) || m.test(host.address)),
      ),
    }))
    .filter((dc) => dc.hosts.length > 0);
  if (picked.length === 0) {
    throw new FleetError('FLEET_NO_HOSTS', 'no host matches --dc/--hosts', {
      hint: 'host patterns are names, ranges like web[001:010].ams.example.net, or globs like web*',
      exitCode: 2,
    });
  }
  return picked;
}

function glob(pattern: string): RegExp {
  const body = pattern
    // Brackets left after range expansion (`web[1:`) are the name's own characters.
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}
