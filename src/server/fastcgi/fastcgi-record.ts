// FastCGI records: the constants of the spec and a reader that cuts a byte stream into records.
//
// Wire format (FastCGI 1.0): every record is an 8-byte header, content, padding:
//   version:u8 (=1)  type:u8  requestId:u16be  contentLength:u16be  paddingLength:u8  reserved:u8
//   content[contentLength]  padding[paddingLength] (ignored)
// Request id 0 is the connection itself (management records: GET_VALUES, UNKNOWN_TYPE).
// The reader emits whole records only, so what it emits does not depend on how bytes arrive.
import { BadRequestError } from '../errors.js';

export const RecordType = {
  BeginRequest: 1,
  AbortRequest: 2,
  EndRequest: 3,
  Params: 4,
  Stdin: 5,
  Stdout: 6,
  Stderr: 7,
  Data: 8,
  GetValues: 9,
  GetValuesResult: 10,
  UnknownType: 11,
} as const;

export const Role = { Responder: 1, Authorizer: 2, Filter: 3 } as const;
export const KeepConn = 1;

export const ProtocolStatus = {
  RequestComplete: 0,
  CantMultiplex: 1,
  Overloaded: 2,
  UnknownRole: 3,
} as const;

export const maxContentLength = 0xffff;

export interface FastcgiRecord {
  type: number;
  requestId: number;
  content: Buffer;
}

export class RecordReader {
  private chunks: Buffer[] = [];
  private length = 0;
  /** Bytes the next record needs before it can be emitted. */
  private need = 8;
  private failed = false;

  constructor(
    private readonly onRecord: (record: FastcgiRecord) => void,
    private readonly onError: (error: BadRequestError) => void,
  ) {}

  /** Bytes received but not yet part of a whole record. */
  get buffered(): number {
    return this.length;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
    if (this.length < this.need) return;
    // Concatenate once per completed record, not once per socket chunk.
    const buf = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.length);
    this.chunks = [];
    this.length = 0;
    let at = 0;
    for (;;) {
      const left = buf.length - at;
      if (left < 8) {
        this.need = 8;
        break;
      }
      const version = buf[at] ?? 0;
      if (version !== 1) {
        this.failed = true;
        this.onError(
          new BadRequestError(
            'FASTCGI_VERSION',
            `FastCGI record version ${version} at byte ${at} is not 1: the peer does not speak FastCGI`,
          ),
        );
        return;
      }
      const contentLength = buf.readUInt16BE(at + 4);
      const total = 8 + contentLength + (buf[at + 6] ?? 0);
      if (left < total) {
        this.need = total;
        break;
      }
      const type = buf[at + 1] ?? 0;
      const requestId = buf.readUInt16BE(at + 2);
      this.onRecord({ type, requestId, content: buf.subarray(at + 8, at + 8 + contentLength) });
      if (this.failed) return;
      at += total;
    }
    if (at < buf.length) {
      this.chunks.push(buf.subarray(at));
      this.length = buf.length - at;
    }
  }

  /** Stop reading: later bytes are ignored. */
  stop(): void {
    this.failed = true;
    this.chunks = [];
    this.length = 0;
  }
}
