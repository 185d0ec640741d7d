// The chunked transfer coding of a request body, decoded: bytes in (`push`), body bytes out
// through a callback. No I/O. uWSGI's HTTP router (--http-chunked-input) passes a chunked upload
// on as it came from the client, after the vars and with no CONTENT_LENGTH.
//
// Wire format (RFC 9112 §7.1):
//   chunk       chunk-size [ chunk-ext ] CRLF  chunk-data CRLF      chunk-size: 1*HEXDIG
//   last-chunk  1*("0") [ chunk-ext ] CRLF
//   trailers    *( field-line CRLF )  CRLF                          read and dropped
// Chunk extensions are skipped. Lines end in CRLF only: the bytes come from the client through
// a gateway that did not check them, and a lone LF is how one framing gets read two ways.
// Bytes after the final CRLF are not the body's and are ignored.
import { BadRequestError } from '../errors.js';

export type ChunkedEvent =
  | { kind: 'data'; data: Buffer }
  | { kind: 'end' }
  | { kind: 'error'; error: BadRequestError };

type State =
  | 'size' // hex digits of chunk-size
  | 'ext' // after the size: extensions or whitespace, up to CR
  | 'size-lf' // the LF after a size line
  | 'data'
  | 'data-cr' // the CRLF after chunk-data
  | 'data-lf'
  | 'trailer' // at the start of a trailer line (or of the final CRLF)
  | 'trailer-line'
  | 'trailer-lf'
  | 'final-lf'
  | 'done'
  | 'failed';

/** Longest size line (size and extensions) and longest trailer section accepted, in bytes. */
export const maxChunkLine = 4096;
export const maxTrailers = 16 * 1024;

const CR = 0x0d;
const LF = 0x0a;

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Whether a Transfer-Encoding value frames the body as chunked: its last coding is `chunked`
 * (RFC 9112 §6.3: otherwise a request's body length cannot be determined).
 */
export function endsChunked(transferEncoding: string): boolean {
  const codings = transferEncoding.split(',');
  return (codings[codings.length - 1] ?? '').trim().toLowerCase() === 'chunked';
}

export class ChunkedDecoder {
  private state: State = 'size';
  private size = 0;
  private digits = 0;
  private lineBytes = 0;
  private trailerBytes = 0;
  // Bytes of the coded stream taken so far, for error messages.
  private offset = 0;

  constructor(private readonly emit: (event: ChunkedEvent) => void) {}

  /** True once the last chunk and the trailers are read. */
  get done(): boolean {
    return this.state === 'done';
  }

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && this.state !== 'done' && this.state !== 'failed') {
      if (this.state === 'data') {
        const take = Math.min(this.size, chunk.length - at);
        this.emit({ kind: 'data', data: chunk.subarray(at, at + take) });
        this.size -= take;
        at += take;
        this.offset += take;
        if (this.size === 0) this.state = 'data-cr';
        continue;
      }
      this.step(chunk[at] ?? 0);
      at++;
      this.offset++;
    }
  }

  /** The peer closed its side: anything before the end of the trailers is a truncated body. */
  end(): void {
    if (this.state === 'done' || this.state === 'failed') return;
    this.fail(
      'BODY_TRUNCATED',
      `chunked request body truncated: the connection closed after ${this.offset} bytes, before the last chunk and its final CRLF`,
    );
  }

  private step(byte: number): void {
    switch (this.state) {
      case 'size': {
        const digit = hexValue(byte);
        if (digit >= 0) {
          // 2^53 is far beyond any limit-post; past it the number would lose digits.
          if (this.size > (Number.MAX_SAFE_INTEGER - digit) / 16) {
            this.fail('BAD_CHUNK', `chunk size at byte ${this.offset} is too large`);
            return;
          }
          this.size = this.size * 16 + digit;
          this.digits++;
          this.countLine();
          return;
        }
        if (this.digits === 0) {
          this.bad('a hexadecimal chunk size', byte);
          return;
        }
        this.state = 'ext';
        this.step(byte);
        return;
      }
      case 'ext':
        if (byte === CR) this.state = 'size-lf';
        else if (byte === LF) this.bad('CR before LF at the end of the chunk size line', byte);
        else this.countLine();
        return;
      case 'size-lf':
        if (byte !== LF) {
          this.bad('LF after CR at the end of the chunk size line', byte);
          return;
        }
        this.lineBytes = 0;
        this.digits = 0;
        this.state = this.size > 0 ? 'data' : 'trailer';
        return;
      case 'data-cr':
        if (byte === CR) this.state = 'data-lf';
        else this.bad('CRLF after the chunk data (the chunk is longer than its size)', byte);
        return;
      case 'data-lf':
        if (byte === LF) this.state = 'size';
        else this.bad('LF after CR following the chunk data', byte);
        return;
      case 'trailer':
        if (!this.countTrailer()) return;
        if (byte === CR) this.state = 'final-lf';
        else if (byte === LF) this.bad('CR before LF in the trailer section', byte);
        else this.state = 'trailer-line';
        return;
      case 'trailer-line':
        if (!this.countTrailer()) return;
        if (byte === CR) this.state = 'trailer-lf';
        else if (byte === LF) this.bad('CR before LF in the trailer section', byte);
        return;
      case 'trailer-lf':
        if (!this.countTrailer()) return;
        if (byte === LF) this.state = 'trailer';
        else this.bad('LF after CR in the trailer section', byte);
        return;
      case 'final-lf':
        if (byte !== LF) {
          this.bad('LF after CR at the end of the chunked body', byte);
          return;
        }
        this.state = 'done';
        this.emit({ kind: 'end' });
        return;
      default:
        return;
    }
  }

  private countLine(): void {
    if (++this.lineBytes > maxChunkLine) {
      this.fail('BAD_CHUNK', `chunk size line at byte ${this.offset} is over ${maxChunkLine} bytes`);
    }
  }

  private countTrailer(): boolean {
    if (++this.trailerBytes <= maxTrailers) return true;
    this.fail('BAD_CHUNK', `chunked body trailers are over ${maxTrailers} bytes`, 431);
    return false;
  }

  private bad(expected: string, byte: number): void {
    const seen =
      byte >= 0x21 && byte <= 0x7e ? `"${String.fromCharCode(byte)}"` : `byte 0x${byte.toString(16)}`;
    this.fail(
      'BAD_CHUNK',
      `malformed chunked body at byte ${this.offset}: expected ${expected}, got ${seen}`,
    );
  }

  private fail(code: string, message: string, status = 400): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.emit({ kind: 'error', error: new BadRequestError(code, message, status) });
  }
}
