// The FastCGI responder parser: bytes in (`push`), request events out through a callback. No I/O.
//
// Per request (see fastcgi-record.ts for the record framing):
//   BEGIN_REQUEST  content: role:u16be flags:u8 reserved[5]; flags bit 0 = KEEP_CONN
//   PARAMS*        name-value pairs (name-value.ts) split over any number of records;
//                  an empty PARAMS record ends them → a 'request' event
//   STDIN*         the body; an empty STDIN record ends it
//   ABORT_REQUEST  the web server gives up on the request
// Management records (request id 0): GET_VALUES → 'get-values'; an unknown type → 'unknown-type'.
// One request at a time (nginx never multiplexes): a BEGIN_REQUEST for another id while one is
// active is refused (CANT_MPX_CONN), a role other than responder too (UNKNOWN_ROLE). The request
// stays active until the front-end has answered it and calls `release(id)`. Records for ids
// that are not active are ignored, as the spec asks.
import { BadRequestError } from '../errors.js';
import {
  type FastcgiRecord,
  KeepConn,
  ProtocolStatus,
  RecordReader,
  RecordType,
  Role,
} from './fastcgi-record.js';
import { decodePairs } from './name-value.js';

export type FastcgiEvent =
  | { kind: 'begin'; requestId: number }
  | { kind: 'request'; requestId: number; keepConn: boolean; params: Array<[string, string]> }
  | { kind: 'stdin'; requestId: number; data: Buffer }
  | { kind: 'stdin-end'; requestId: number }
  | { kind: 'abort'; requestId: number }
  | { kind: 'refuse'; requestId: number; protocolStatus: number }
  | { kind: 'get-values'; names: string[] }
  | { kind: 'unknown-type'; type: number }
  | { kind: 'error'; error: BadRequestError; requestId?: number };

interface Active {
  id: number;
  keepConn: boolean;
  phase: 'params' | 'stdin' | 'done';
  params: Buffer[];
  paramsLength: number;
}

const replies = new Set<number>([
  RecordType.EndRequest,
  RecordType.Stdout,
  RecordType.Stderr,
  RecordType.GetValuesResult,
  RecordType.UnknownType,
]);

export class FastcgiParser {
  private readonly reader: RecordReader;
  private active: Active | null = null;
  private failed = false;

  constructor(
    private readonly bufferSize: number,
    private readonly emit: (event: FastcgiEvent) => void,
  ) {
    this.reader = new RecordReader(
      (record) => this.onRecord(record),
      (error) => this.fail(error),
    );
  }

  /** Bytes received that are not yet part of a whole record. */
  get buffered(): number {
    return this.reader.buffered;
  }

  push(chunk: Buffer): void {
    this.reader.push(chunk);
  }

  /** The peer closed its side. Mid-record or mid-request that is a truncation. */
  end(): void {
    if (this.failed) return;
    const active = this.active;
    if (this.reader.buffered > 0) {
      this.fail(
        new BadRequestError(
          'FASTCGI_TRUNCATED',
          `FastCGI record truncated: the connection closed with ${this.reader.buffered} bytes of a record`,
        ),
        active?.id,
      );
    } else if (active && active.phase !== 'done') {
      this.fail(
        new BadRequestError(
          'FASTCGI_TRUNCATED',
          `FastCGI request ${active.id} truncated: the connection closed during its ${active.phase === 'params' ? 'PARAMS' : 'STDIN'}`,
        ),
        active.id,
      );
    }
  }

  /** The front-end has answered `requestId` (END_REQUEST sent): the next BEGIN_REQUEST may come. */
  release(requestId: number): void {
    if (this.active?.id === requestId) this.active = null;
  }

  private onRecord({ type, requestId, content }: FastcgiRecord): void {
    const active = this.active?.id === requestId ? this.active : null;
    switch (type) {
      case RecordType.BeginRequest:
        this.begin(requestId, content);
        return;
      case RecordType.AbortRequest:
        if (active && active.phase !== 'done') {
          active.phase = 'done';
          this.emit({ kind: 'abort', requestId });
        }
        return;
      case RecordType.Params:
        if (active) this.params(active, content);
        return;
      case RecordType.Stdin:
        if (active) this.stdin(active, content);
        return;
      case RecordType.Data:
        return; // the FILTER role's second stream; responders ignore it
      case RecordType.GetValues:
        this.getValues(content);
        return;
    }
    if (replies.has(type)) {
      this.fail(
        new BadRequestError(
          'FASTCGI_UNEXPECTED_RECORD',
          `FastCGI record type ${type} goes from application to web server, not the other way`,
        ),
      );
      return;
    }
    this.emit({ kind: 'unknown-type', type });
  }

  private begin(requestId: number, content: Buffer): void {
    if (requestId === 0 || content.length !== 8) {
      this.fail(
        new BadRequestError(
          'FASTCGI_BAD_BEGIN',
          `malformed BEGIN_REQUEST: request id ${requestId}, ${content.length} content bytes (want id > 0, 8 bytes)`,
        ),
      );
      return;
    }
    if (this.active) {
      if (this.active.id === requestId) {
        this.fail(
          new BadRequestError(
            'FASTCGI_DUPLICATE_BEGIN',
            `BEGIN_REQUEST for request ${requestId}, which is active`,
          ),
          requestId,
        );
        return;
      }
      this.emit({ kind: 'refuse', requestId, protocolStatus: ProtocolStatus.CantMultiplex });
      return;
    }
    const role = content.readUInt16BE(0);
    if (role !== Role.Responder) {
      this.emit({ kind: 'refuse', requestId, protocolStatus: ProtocolStatus.UnknownRole });
      return;
    }
    const keepConn = ((content[2] ?? 0) & KeepConn) !== 0;
    this.active = { id: requestId, keepConn, phase: 'params', params: [], paramsLength: 0 };
    this.emit({ kind: 'begin', requestId });
  }

  private params(active: Active, content: Buffer): void {
    if (active.phase === 'done') return; // aborted: late records are dropped
    if (active.phase !== 'params') {
      this.unexpected(active, 'PARAMS record after its PARAMS ended');
      return;
    }
    if (content.length > 0) {
      active.paramsLength += content.length;
      if (active.paramsLength > this.bufferSize) {
        this.fail(
          new BadRequestError(
            'VARS_TOO_LARGE',
            `FastCGI params of request ${active.id} exceed buffer-size (${this.bufferSize} bytes)`,
            431,
          ),
          active.id,
        );
        return;
      }
      active.params.push(content);
      return;
    }
    let params: Array<[string, string]>;
    try {
      params = decodePairs(Buffer.concat(active.params, active.paramsLength));
    } catch (err) {
      this.fail(err as BadRequestError, active.id);
      return;
    }
    active.params = [];
    active.phase = 'stdin';
    this.emit({ kind: 'request', requestId: active.id, keepConn: active.keepConn, params });
  }

  private stdin(active: Active, content: Buffer): void {
    if (active.phase === 'done') return; // aborted: the rest of its body is dropped
    if (active.phase !== 'stdin') {
      this.unexpected(active, 'STDIN record before its PARAMS ended');
      return;
    }
    if (content.length > 0) {
      this.emit({ kind: 'stdin', requestId: active.id, data: content });
    } else {
      active.phase = 'done';
      this.emit({ kind: 'stdin-end', requestId: active.id });
    }
  }

  private getValues(content: Buffer): void {
    try {
      this.emit({ kind: 'get-values', names: decodePairs(content).map(([name]) => name) });
    } catch (err) {
      this.fail(err as BadRequestError);
    }
  }

  private unexpected(active: Active, problem: string): void {
    this.fail(
      new BadRequestError('FASTCGI_UNEXPECTED_RECORD', `request ${active.id}: ${problem}`),
      active.id,
    );
  }

  private fail(error: BadRequestError, requestId?: number): void {
    if (this.failed) return;
    this.failed = true;
    this.reader.stop();
    this.emit(requestId === undefined ? { kind: 'error', error } : { kind: 'error', error, requestId });
  }
}
