// The health probe runs curl on the host itself: the URL is the host's own view of the app
// (usually loopback, which the controller cannot reach), and it reuses the open SSH connection
// instead of needing a network path from the controller to every app port.
import { all, type Script } from './shell.js';

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
