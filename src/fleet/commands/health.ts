// The health probe on the host itself, with curl: where the host's sshd allows no TCP forwarding
// and for https:// URLs (an http:// URL is otherwise probed through the SSH connection, see
// ssh/tunnel-http.ts). Either way the URL is the host's own view of the app (usually loopback,
// which the controller cannot reach), and no network path from the controller to app ports is
// needed.
import { all, program, type Script } from './shell.js';

export const statusMarker = '\n--pier-status:';

export function probeHealth(url: string, timeoutMs: number): Script {
  const seconds = (Math.max(100, timeoutMs) / 1000).toFixed(1);
  return all(['curl', '-sS', '--max-time', seconds, '-o', '-', '-w', `${statusMarker}%{http_code}`, url]);
}

/** curl's output → status and body (status 0 = no HTTP answer at all). */
export function parseProbe(output: string): { status: number; body: string } {
  const at = output.lastIndexOf(statusMarker);
  if (at === -1) return { status: 0, body: output };
  return { status: Number(output.slice(at + statusMarker.length).trim()) || 0, body: output.slice(0, at) };
}

/** Printed last by the gate loop: `pier-health:ok`, or `pier-health:fail:<phase>:<status>:<body 0|1>`. */
export const gateMarker = 'pier-health:';

/**
 * The whole health gate as one program on the host ($1 URL, $2 expected status, $3 text the
 * body must hold or empty, $4 timeout ms, $5 interval ms, $6 the interval in seconds for
 * sleep(1), $7 bake ms, $8 seconds per probe): probe until the answer is right or the next
 * probe would start after the timeout, then keep probing through the bake. One SSH round trip
 * instead of one per probe. The verdict is the last `pier-health:` line; curl's status (000
 * when nothing answered) is what the controller judges (health-gate.ts), as for single probes.
 *
 * A gate that passes at once with no bake runs `sh` and `curl` and nothing else: the answer is
 * kept in a variable (no temporary file), the body matched with `case`, and the clock read from
 * /proc/uptime with the `read` builtin (date(1) where there is none). Each process saved is
 * about 1 ms of the host's CPU per deploy.
 */
const gateLoop = [
  'url=$1 want=$2 body=$3 timeout=$4 every=$5 pause=$6 bake=$7 probe=$8;',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
  'tick() { if read -r up _ < /proc/uptime 2>/dev/null; then t=$(( ${up%.*} * 1000 + (1${up#*.} - 100) * 10 )); else t=$(date +%s%3N); fi; };',
  'check() { out=$(curl -sS --max-time "$probe" -w "pier-status:%{http_code}" "$url" 2>/dev/null);',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
  'code=${out##*pier-status:}; [ -n "$code" ] || code=000; ok=1; found=1; [ "$code" = "$want" ] || ok=0;',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
  'if [ -n "$body" ]; then case "${out%pier-status:*}" in *"$body"*) ;; *) found=0; ok=0;; esac; fi; };',
  'tick; deadline=$(( t + timeout )); check;',
  'while [ $ok = 0 ]; do tick; [ $(( t + every )) -lt $deadline ] || break; sleep "$pause"; check; done;',
  '[ $ok = 1 ] || { echo "pier-health:fail:gate:$code:$found"; exit 0; };',
  'if [ "$bake" -gt 0 ]; then tick; end=$(( t + bake ));',
  'while tick; [ $t -lt $end ]; do sleep "$pause"; check; [ $ok = 1 ] || { echo "pier-health:fail:bake:$code:$found"; exit 0; }; done; fi;',
  'echo pier-health:ok',
].join(' ');

export interface GateSpec {
  url: string;
  status: number;
  /** The text the body must hold, `{version}` already replaced; undefined: any body. */
  body: string | undefined;
  timeoutMs: number;
  intervalMs: number;
  bakeMs: number;
}

export function healthGate(spec: GateSpec): Script {
  const probeSeconds = (Math.max(100, Math.min(spec.timeoutMs, 10_000)) / 1000).toFixed(1);
  return program(gateLoop, [
    ...[spec.url, String(spec.status), spec.body ?? ''],
    ...[String(spec.timeoutMs), String(spec.intervalMs), (spec.intervalMs / 1000).toFixed(3)],
    ...[String(spec.bakeMs), probeSeconds],
  ]);
}

export type GateVerdict =
  | { ok: true }
  | { ok: false; phase: 'gate' | 'bake'; status: number; bodyFound: boolean }
  | undefined;

/** The loop's last verdict line; undefined when it printed none (it did not run to the end). */
export function parseGate(stdout: string): GateVerdict {
  const line = stdout
    .split('\n')
    .map((text) => text.trim())
    .filter((text) => text.startsWith(gateMarker))
    .at(-1);
  if (line === undefined) return undefined;
  if (line === `${gateMarker}ok`) return { ok: true };
  const [, , phase, status, found] = line.split(':');
  return {
    ok: false,
    phase: phase === 'bake' ? 'bake' : 'gate',
    status: Number(status) || 0,
    bodyFound: found === '1',
  };
}
