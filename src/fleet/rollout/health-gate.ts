// The health gate after a switch: poll the host's health URL (from the host, see
// commands/health.ts) until it answers as expected or the timeout passes; then keep probing
// through the bake time, so an app that starts and then falls over is caught too.
import { parseProbe, probeHealth } from '../commands/health.js';
import type { Fleet } from '../inventory/inventory.js';
import type { Connection } from '../ssh/connection.js';
import { HostError } from '../ssh/errors.js';

export type HealthSpec = Fleet['health'];

/** Why an answer is not healthy, or undefined when it is. */
export function judge(
  spec: HealthSpec,
  version: string,
  answer: { status: number; body: string },
): string | undefined {
  if (answer.status === 0) return `no HTTP answer from ${spec.url}`;
  if (answer.status !== spec.status) return `${spec.url} answered ${answer.status}, expected ${spec.status}`;
  const expected = spec.body?.replaceAll('{version}', version);
  if (expected !== undefined && !answer.body.includes(expected)) {
    return `${spec.url} answered without "${expected}"`;
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function passHealthGate(
  connection: Connection,
  spec: HealthSpec,
  version: string,
): Promise<void> {
  const probe = async (): Promise<string | undefined> => {
    const result = await connection.exec(probeHealth(spec.url, Math.min(spec.timeout, 10_000)), {
      timeoutMs: spec.timeout + 5_000,
    });
    return judge(spec, version, parseProbe(result.stdout));
  };
  const deadline = Date.now() + spec.timeout;
  let problem = await probe();
  while (problem !== undefined && Date.now() + spec.interval < deadline) {
    await sleep(spec.interval);
    problem = await probe();
  }
  if (problem !== undefined) {
    throw new HostError('FLEET_UNHEALTHY', `health check failed after ${spec.timeout / 1000} s: ${problem}`);
  }
  const bakeEnd = Date.now() + spec.bake;
  while (Date.now() < bakeEnd) {
    await sleep(Math.min(spec.interval, Math.max(0, bakeEnd - Date.now())));
    problem = await probe();
    if (problem !== undefined) {
      throw new HostError(
        'FLEET_UNHEALTHY',
        `health check failed during the ${spec.bake / 1000} s bake: ${problem}`,
      );
    }
  }
}
