// The health gate after a switch: poll the host's health URL (from the host, see
// commands/health.ts) until it answers as expected or the timeout passes; then keep probing
// through the bake time, so an app that starts and then falls over is caught too.
import { healthGate, parseGate, parseProbe, probeHealth } from '../commands/health.js';
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

/**
 * The health gate for `version` on the host behind `connection`: in one round trip (the loop of
 * commands/health.ts runs on the host), or probe by probe from here when the expected body holds
 * a line break (grep -F would read it as several patterns). Throws HostError FLEET_UNHEALTHY
 * saying what the last answer got wrong, and whether it failed before or during the bake.
 */
export async function passHealthGate(
  connection: Connection,
  spec: HealthSpec,
  version: string,
): Promise<void> {
  const expected = spec.body?.replaceAll('{version}', version);
  if (expected !== undefined && /[\r\n\0]/.test(expected)) return probeByProbe(connection, spec, version);
  const result = await connection.exec(
    healthGate({
      url: spec.url,
      status: spec.status,
      body: expected,
      timeoutMs: spec.timeout,
      intervalMs: spec.interval,
      bakeMs: spec.bake,
    }),
    { timeoutMs: spec.timeout + spec.bake + 15_000 },
  );
  const verdict = parseGate(result.stdout);
  if (verdict === undefined) {
    const said = result.stderr.trim().split('\n').slice(-1)[0];
    throw new HostError(
      'FLEET_UNHEALTHY',
      `the health check could not run on the host (exit ${result.code}${said ? `: ${said}` : ''})`,
      { hint: 'it needs sh, curl, mktemp, grep and GNU date on the host' },
    );
  }
  if (verdict.ok) return;
  const answer = { status: verdict.status, body: verdict.bodyFound ? (expected ?? '') : '' };
  const problem = judge(spec, version, answer) ?? `${spec.url} answered wrongly`;
  throw new HostError(
    'FLEET_UNHEALTHY',
    verdict.phase === 'bake'
      ? `health check failed during the ${spec.bake / 1000} s bake: ${problem}`
      : `health check failed after ${spec.timeout / 1000} s: ${problem}`,
  );
}

async function probeByProbe(connection: Connection, spec: HealthSpec, version: string): Promise<void> {
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
