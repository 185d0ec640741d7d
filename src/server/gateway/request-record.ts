// The access-log record of one answered gateway request (see RequestRecord in protocol.ts).
// Method and target are empty when the request was answered before its head was parsed; a
// request refused for what its head says is logged with what it asked for (LoggedHead). The
// client's address and the two logged headers are looked up only when read: with the access
// log off nothing reads them, and a head builds its headers only on demand.
import { performance } from 'node:perf_hooks';
import type { RequestHead } from '../app/request-head.js';
import type { ProtocolName, RequestRecord } from '../protocol.js';
import { labelAddress } from './peer-label.js';

/** What a record reads of a head: a RequestHead, or the unchecked line of a refused request. */
export type LoggedHead = Pick<RequestHead, 'method' | 'target'> &
  Partial<Pick<RequestHead, 'headers' | 'remoteAddress'>>;

class GatewayRecord implements RequestRecord {
  readonly method: string;
  readonly target: string;
  readonly status: number;
  readonly bytes: number;
  readonly durationMs: number;

  constructor(
    readonly protocol: ProtocolName,
    private readonly head: LoggedHead | null,
    private readonly fallbackAddress: () => string,
    result: { status: number; bytes: number },
    startedAt: number,
  ) {
    this.method = head?.method ?? '';
    this.target = head?.target ?? '';
    this.status = result.status;
    this.bytes = result.bytes;
    this.durationMs = Math.round((performance.now() - startedAt) * 1000) / 1000;
  }

  get remoteAddress(): string {
    return this.head?.remoteAddress || labelAddress(this.fallbackAddress());
  }
  get referer(): string {
    return this.header('referer');
  }
  get userAgent(): string {
    return this.header('user-agent');
  }

  private header(name: string): string {
    return this.head?.headers?.find(([n]) => n === name)?.[1] ?? '';
  }
}

/** `fallbackAddress`: the connection's peerLabel, for a request without REMOTE_ADDR. */
export function requestRecord(
  protocol: ProtocolName,
  head: LoggedHead | null,
  fallbackAddress: () => string,
  result: { status: number; bytes: number },
  startedAt: number,
): RequestRecord {
  return new GatewayRecord(protocol, head, fallbackAddress, result, startedAt);
}
