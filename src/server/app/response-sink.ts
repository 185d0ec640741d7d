// Where a dispatched response goes. Each front-end that speaks CGI-style variables (CGI, uwsgi,
// FastCGI) implements one: it serializes the head its own way and frames the body bytes.
import { boundedMemo } from '../../common/bounded-memo.js';

export interface ResponseHead {
  status: number;
  statusText: string;
  /** Header pairs in order; repeated names (Set-Cookie) stay separate. */
  headers: Array<[string, string]>;
}

export interface ResponseSink {
  head(head: ResponseHead): void;
  /** Resolves when the sink can take more (backpressure). */
  write(chunk: Uint8Array): Promise<void> | undefined;
  end(): void;
  /** The response cannot be completed (the app failed after the head went out). */
  abort(reason: Error): void;
  /**
   * Optional: head, whole body and end at once, for responses whose body is already in memory.
   * Lets a front-end send them in one write instead of three.
   */
  complete?(head: ResponseHead, body: Uint8Array | undefined): void;
  /**
   * Optional: `listener` runs once if the client goes away before the response has ended (its
   * connection closed under it); a later call replaces the listener. A sink that cannot tell
   * leaves this out.
   */
  onGone?(listener: () => void): void;
}

const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);
const tokenName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

// Header names already checked, and what becomes of them: apps send the same few names with
// every response.
const verdictOf = boundedMemo((name): 'forward' | 'drop' | 'invalid' =>
  !tokenName.test(name) ? 'invalid' : hopByHop.has(name.toLowerCase()) ? 'drop' : 'forward',
);

function safeValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0) return false;
  }
  return true;
}

/** Header pairs safe to forward: no hop-by-hop fields, no CR/LF/NUL smuggled into a value. */
export function forwardableHeaders(headers: Iterable<[string, string]>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of headers) if (forwardable(name, value)) out.push([name, value]);
  return out;
}

/** Whether a header goes on (false: hop-by-hop); throws for CR, LF or NUL smuggled into it. */
export function forwardable(name: string, value: string): boolean {
  const verdict = verdictOf(name);
  if (verdict === 'drop') return false;
  if (verdict === 'invalid' || !safeValue(value)) {
    throw new Error(`the app returned an invalid header ${JSON.stringify(name)}: CR, LF or NUL in it`);
  }
  return true;
}
