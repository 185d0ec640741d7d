// Encodes the records a FastCGI responder sends: STDOUT (split into records of at most 65535
// bytes), END_REQUEST, GET_VALUES_RESULT and UNKNOWN_TYPE. No padding: the spec only
// recommends 8-byte alignment, and nginx reads unpadded records.
import { maxContentLength, RecordType } from './fastcgi-record.js';
import { encodePairs } from './name-value.js';

export function recordHeader(type: number, requestId: number, contentLength: number): Buffer {
  const header = Buffer.alloc(8);
  header[0] = 1;
  header[1] = type;
  header.writeUInt16BE(requestId, 2);
  header.writeUInt16BE(contentLength, 4);
  return header;
}

/** Header and content buffers for `data` as STDOUT records; an empty `data` ends the stream. */
export function stdoutRecords(requestId: number, data: Uint8Array): Buffer[] {
  if (data.length === 0) return [recordHeader(RecordType.Stdout, requestId, 0)];
  const out: Buffer[] = [];
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let at = 0; at < bytes.length; at += maxContentLength) {
    const part = bytes.subarray(at, at + maxContentLength);
    out.push(recordHeader(RecordType.Stdout, requestId, part.length), part);
  }
  return out;
}

export function endRequestRecord(requestId: number, appStatus: number, protocolStatus: number): Buffer {
  const record = Buffer.alloc(16);
  recordHeader(RecordType.EndRequest, requestId, 8).copy(record);
  record.writeUInt32BE(appStatus >>> 0, 8);
  record[12] = protocolStatus;
  return record;
}

export function unknownTypeRecord(type: number): Buffer {
  const record = Buffer.alloc(16);
  recordHeader(RecordType.UnknownType, 0, 8).copy(record);
  record[8] = type;
  return record;
}

export function getValuesResultRecord(pairs: Iterable<[string, string]>): Buffer {
  const content = encodePairs(pairs);
  return Buffer.concat([recordHeader(RecordType.GetValuesResult, 0, content.length), content]);
}
