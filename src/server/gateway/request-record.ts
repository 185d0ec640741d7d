// The access-log record of one answered gateway request (see RequestRecord in protocol.ts).
// Method and target are empty when the request was answered before its head was parsed.
import { performance } from 'node:perf_hooks';
import type { RequestHead } from '../app/request-head.js';
import type { ProtocolName, RequestRecord } from '../protocol.js';

export function requestRecord(
  protocol: ProtocolName,
  head: RequestHead | null,
  fallbackAddress: string,
  result: { status: number; bytes: number },
  startedAt: number,
): RequestRecord {
  const header = (name: string): string => head?.headers.find(([n]) => n === name)?.[1] ?? '';
  return {
    protocol,
    remoteAddress: head?.remoteAddress || fallbackAddress,
    method: head?.method ?? '',
    target: head?.target ?? '',
    status: result.status,
    bytes: result.bytes,
    durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
    referer: header('referer'),
    userAgent: header('user-agent'),
  };
}
