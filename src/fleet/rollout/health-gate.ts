// The health gate after a switch: poll the host's health URL (as the host sees it, see
// passHealthGate) until it answers as expected or the timeout passes; then keep probing
// through the bake time, so an app that starts and then falls over is caught too.
import { healthGate, parseGate, parseProbe, probeHealth } from '../commands/health.js';
import type { Fleet } from '../inventory/inventory.js';
import { type Connection, ForwardingRefused } from '../ssh/connection.js';
import { HostError } from '../ssh/errors.js';
import { getThroughTunnel, type ProbeAnswer, tunnelable } from '../ssh/tunnel-http.js';

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
 * What the last answer was, for a failed gate's hint (not its message: answers differ from host
 * to host, and failures are grouped by message): status and the body's first 80 characters.
 */
export function lastAnswerHint(answer: { status: number; body: string } | undefined): string | undefined {
  if (answer === undefined || answer.status === 0) return undefined;
  const body = answer.body.length > 80 ? `${answer.body.slice(0, 80)}…` : answer.body;
  return `its last answer: ${answer.status} ${JSON.stringify(body)}`;
}

/**
 * The health gate for `version` on the host behind `connection`. An http:// URL is probed from
 * here through the host's SSH connection (ssh/tunnel-http.ts: the host's sshd makes the TCP
 * connection, so the URL means what it means on the host, and no process runs there); when
 * the host's sshd refuses forwarding, or for https://, the gate runs on the host, curl probing
 * in a loop in one round trip (commands/health.ts), or probe by probe from here when the
 * expected body holds a line break. Throws HostError FLEET_UNHEALTHY saying what the last
 * answer got wrong, and whether it failed before or during the bake.
 */
export async function passHealthGate(
  connection: Connection,
  spec: HealthSpec,
  version: string,
  appGone?: AppGone,
): Promise<void> {
  if (tunnelable(spec.url) && !connection.forwardingRefused) {
    try {
      const probe = () => getThroughTunnel(connection, spec.url, probeLimitMs(spec));
      return await probeByProbe(spec, version, probe, appGone);
    } catch (err) {
      if (!(err instanceof ForwardingRefused)) throw err;
    }
  }
  const expected = spec.body?.replaceAll('{version}', version);
  if (expected !== undefined && /[\r\n\0]/.test(expected)) {
    return probeByProbe(spec, version, () => probeOnHost(connection, spec));
  }
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

/** One probe's limit: the gate's timeout, 10 s at most (a slow answer leaves time to retry). */
const probeLimitMs = (spec: HealthSpec): number => Math.min(spec.timeout, 10_000);

/** One probe by curl on the host, in its own round trip. */
async function probeOnHost(connection: Connection, spec: HealthSpec): Promise<ProbeAnswer> {
  const result = await connection.exec(probeHealth(spec.url, probeLimitMs(spec)), {
    timeoutMs: spec.timeout + 5_000,
  });
  return parseProbe(result.stdout);
}

/** The gate's loop run from here, `probe` at a time: until healthy or timeout, then the bake. */
/**
 * Asked while the probes fail, at most once a second: the error to fail the host with when the
 * process the service manager started is gone (a crash at start), else undefined.
 */
export type AppGone = () => Promise<HostError | undefined>;

async function probeByProbe(
  spec: HealthSpec,
  version: string,
  probe: () => Promise<ProbeAnswer>,
  appGone?: AppGone,
): Promise<void> {
  let last: ProbeAnswer | undefined;
  const check = async () => {
    last = await probe();
    return judge(spec, version, last);
  };
  const started = Date.now();
  const deadline = started + spec.timeout;
  let asked = started;
  let problem = await check();
  while (problem !== undefined && Date.now() + spec.interval < deadline) {
    // An app that crashed at start never answers: say so now, not after the whole timeout.
    if (appGone && Date.now() - asked >= 1000) {
      asked = Date.now();
      const gone = await appGone();
      if (gone) throw gone;
    }
    await sleep(spec.interval);
    problem = await check();
  }
  if (problem !== undefined) {
    throw new HostError('FLEET_UNHEALTHY', `health check failed after ${spec.timeout / 1000} s: ${problem}`, {
      hint: lastAnswerHint(last),
    });
  }
  const bakeEnd = Date.now() + spec.bake;
  while (Date.now() < bakeEnd) {
    await sleep(Math.min(spec.interval, Math.max(0, bakeEnd - Date.now())));
    problem = await check();
    if (problem !== undefined) {
      throw new HostError(
        'FLEET_UNHEALTHY',
        `health check failed during the ${spec.bake / 1000} s bake: ${problem}`,
        { hint: lastAnswerHint(last) },
      );
    }
  }
}
