// The deploy/fleet.yml of the scale bench: every host an object with its own loopback address and
// deploy_to, five data centers, the host's Node (a tiny artifact), a trivial long-running service
// and one health URL for all hosts, answered by the bench itself.
import type { LoopbackFleet } from '../../test/helpers/loopback-fleet.js';

export const datacenters = ['ams', 'fra', 'sfo', 'nyc', 'sgp'] as const;

/** The rollout under test: one canary per DC, 10% in flight, every DC at once. */
export const rollout = { canary: 1, window: '10%', dc_parallel: 5, stage_window: 200 };

export const handshakeConcurrency = 64;

export function fleetYaml(fleet: LoopbackFleet, healthUrl: string): string {
  const json = (value: unknown) => JSON.stringify(value);
  const present = datacenters.filter((dc) => fleet.hosts.some((host) => host.dc === dc));
  return [
    'app: hello',
    'runtime: host',
    `ssh: ${json({
      user: fleet.user,
      port: fleet.port,
      identity: fleet.identity,
      known_hosts: fleet.knownHosts,
      agent: false,
      handshake_concurrency: handshakeConcurrency,
      connect_timeout: '10s',
    })}`,
    // The app itself is not what is measured: a process that sleeps is as cheap as one can be.
    `service: ${json({ manager: 'none', command: ['sh', '-c', 'exec sleep 3600'], stop_timeout: '2s' })}`,
    `health: ${json({ url: healthUrl, status: 200, body: 'ok', timeout: '30s', interval: '250ms' })}`,
    `rollout: ${json({ ...rollout, dc_order: present })}`,
    'datacenters:',
    ...present.flatMap((dc) => {
      const hosts = fleet.hosts.filter((host) => host.dc === dc);
      return [
        `  ${dc}:`,
        '    hosts:',
        ...hosts.map(
          (host) => `      - ${json({ name: host.name, address: host.address, deploy_to: host.deployTo })}`,
        ),
      ];
    }),
    '',
  ].join('\n');
}
