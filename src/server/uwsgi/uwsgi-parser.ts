// The uwsgi request parser: bytes in (`push`), one request out through a callback. No I/O.
//
// Wire format (uWSGI's "uwsgi" protocol, modifier1 0 as nginx's uwsgi_pass sends it):
//   header  modifier1:u8  datasize:u16le  modifier2:u8      datasize counts the vars block only
//   vars    repeated  key_len:u16le key  val_len:u16le val  until datasize bytes are used;
//           an empty key is invalid, an empty value is valid
//   body    CONTENT_LENGTH bytes (from the vars), unframed, right after the vars; or, with no
//           CONTENT_LENGTH and an HTTP_TRANSFER_ENCODING ending in chunked (uWSGI's HTTP router
//           with --http-chunked-input passes the client's upload on as it came), chunk-encoded
//           bytes up to the last chunk (see chunked-decoder.ts). A CONTENT_LENGTH frames the body
//           even beside HTTP_TRANSFER_ENCODING: nginx de-chunks the body, counts it, and still
//           passes the client's header on.
// One packet per connection: nginx never reuses a uwsgi connection, so bytes after the body
// are discarded. Names and values are decoded latin1 (one char per byte, as Node's HTTP parser
// decodes header values); the front-end decides what is UTF-8.
import { parseContentLength } from '../app/cgi-vars.js';
import { BadRequestError } from '../errors.js';
import { ChunkedDecoder, type ChunkedEvent, endsChunked } from '../gateway/chunked-decoder.js';

export type UwsgiEvent =
  /** `contentLength` is null for a chunked body, whose length is known only at its end. */
  | { kind: 'request'; vars: UwsgiVars; contentLength: number | null }
  | { kind: 'body'; data: Buffer }
  | { kind: 'end' }
  /** `vars` when the vars block was whole and the request is refused for what it says. */
  | { kind: 'error'; error: BadRequestError; vars?: UwsgiVars };

type State = 'header' | 'vars' | 'body' | 'done' | 'failed';

// Buffer's own latin1 decoder (what toString('latin1') ends in), without toString's dispatch.
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

// nginx sends the same few variable names in every packet: decode each once and reuse the
// string (a known name is also a key whose hash V8 has already computed).
const knownNames = new Map<number, string>();
const maxKnownNames = 512;

function varName(block: Buffer, at: number, length: number): string {
  const id =
    (length << 24) ^
    ((block[at] ?? 0) << 16) ^
    ((block[at + length - 1] ?? 0) << 8) ^
    (block[at + (length >> 1)] ?? 0);
  const known = knownNames.get(id);
  if (known !== undefined && known.length === length) {
    let same = true;
    for (let i = 0; i < length && same; i++) same = known.charCodeAt(i) === block[at + i];
    if (same) return known;
  }
  const name = (block as Latin1Buffer).latin1Slice(at, at + length);
  if (knownNames.size < maxKnownNames) knownNames.set(id, name);
  return name;
}

// The variables a request line is made of: the parser decodes these (and only these) at once.
const lineNames = [
  'REQUEST_METHOD',
  'REQUEST_URI',
  'SCRIPT_NAME',
  'PATH_INFO',
  'QUERY_STRING',
  'CONTENT_LENGTH',
  'HTTP_TRANSFER_ENCODING',
  // Checked with the request line: it goes into the app's URL (app/request-url.ts).
  'HTTP_HOST',
];
const lineNameBytes = lineNames.map((name) => Buffer.from(name, 'latin1'));
const contentLengthIndex = lineNames.indexOf('CONTENT_LENGTH');
const transferEncodingIndex = lineNames.indexOf('HTTP_TRANSFER_ENCODING');

/** Which of `lineNames` the name at `block[at..at+length)` is, or -1. */
function lineNameIndex(block: Buffer, at: number, length: number): number {
  // Every var of every request comes through here: most names are rejected on their length or
  // first byte before any loop runs.
  let index: number;
  const first = block[at];
  switch (length) {
    case 9:
      index = first === 0x50 ? 3 : first === 0x48 ? 7 : -1; // PATH_INFO, HTTP_HOST
      break;
    case 11:
      // REQUEST_URI, SCRIPT_NAME (SERVER_NAME and REMOTE_* share lengths and first bytes)
      index = first === 0x52 ? 1 : first === 0x53 && block[at + 1] === 0x43 ? 2 : -1;
      break;
    case 12:
      index = first === 0x51 ? 4 : -1; // QUERY_STRING
      break;
    case 14:
      // REQUEST_METHOD (REQUEST_SCHEME shares its first 8 bytes), CONTENT_LENGTH
      index = first === 0x52 ? 0 : first === 0x43 ? 5 : -1;
      break;
    case 22:
      index = first === 0x48 ? 6 : -1; // HTTP_TRANSFER_ENCODING (HTTP_X_FORWARDED_PROTO too)
      break;
    default:
      return -1;
  }
  if (index < 0) return -1;
  const name = lineNameBytes[index] as Buffer;
  for (let i = 1; i < length; i++) if (name[i] !== block[at + i]) return -1;
  return index;
}

/**
 * A parsed vars block. The request-line variables are decoded at once; the others only when
 * `pairs()` is called (most apps never read most of them, and each decoded string costs).
 */
export class UwsgiVars {
  constructor(
    private readonly block: Buffer,
    // The request-line variables by their index in `lineNames` (the last of a repeated one).
    private readonly line: Array<string | undefined>,
  ) {}

  /** A request-line variable (REQUEST_METHOD, REQUEST_URI, ...), latin1; undefined when absent. */
  lineVar(name: string): string | undefined {
    const index = lineNames.indexOf(name);
    return index < 0 ? undefined : this.line[index];
  }

  /** Every variable in packet order, names and values decoded latin1. */
  pairs(): Array<[string, string]> {
    const { block } = this;
    const pairs: Array<[string, string]> = [];
    let at = 0;
    // The block was checked whole by the parser: every length fits.
    while (at < block.length) {
      const keyLength = block.readUInt16LE(at);
      const key = varName(block, at + 2, keyLength);
      at += 2 + keyLength;
      const valueLength = block.readUInt16LE(at);
      at += 2;
      pairs.push([key, valueLength === 0 ? '' : (block as Latin1Buffer).latin1Slice(at, at + valueLength)]);
      at += valueLength;
    }
    return pairs;
  }
}

export class UwsgiParser {
  private state: State = 'header';
  // Head bytes so far, kept as a list and joined once enough have come (no quadratic copying
  // when a slow peer sends them a few bytes at a time).
  private chunks: Buffer[] = [];
  private buffered = 0;
  private datasize = 0;
  private bodyLeft = 0;
  // Set for a chunked body: it frames the body instead of bodyLeft.
  private chunked: ChunkedDecoder | null = null;

  constructor(
    private readonly bufferSize: number,
    private readonly emit: (event: UwsgiEvent) => void,
  ) {}

  /** True once the vars block is parsed (the request head is complete). */
  get headComplete(): boolean {
    return this.state === 'body' || this.state === 'done';
  }

  /** True once the whole packet, body included, is read: the peer has nothing more to send. */
  get done(): boolean {
    return this.state === 'done';
  }

  push(chunk: Buffer): void {
    if (this.state === 'done' || this.state === 'failed') return;
    if (this.state === 'body') {
      this.feedBody(chunk);
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < (this.state === 'header' ? 4 : 4 + this.datasize)) return;
    const pending = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [pending];
    if (this.state === 'header' && !this.readHeader(pending)) return;
    if (pending.length < 4 + this.datasize) return;
    const end = 4 + this.datasize;
    this.chunks = [];
    this.buffered = 0;
    // readVars moves the state on; `headComplete` reads it afresh (TS narrowed `state` above).
    this.readVars(pending.subarray(4, end));
    if (this.headComplete && pending.length > end) this.feedBody(pending.subarray(end));
  }

  /** The peer closed its side: anything but a finished packet is truncated. */
  end(): void {
    const state = this.state;
    if (state === 'body' && this.chunked) {
      this.chunked.end();
    } else if (state === 'body') {
      this.fail(
        'BODY_TRUNCATED',
        `request body truncated: the connection closed with ${this.bodyLeft} bytes of CONTENT_LENGTH missing`,
      );
    } else if (state === 'header' && this.buffered === 0) {
      this.fail('UWSGI_EMPTY', 'the connection closed before a uwsgi packet arrived');
    } else if (state === 'header' || state === 'vars') {
      const want = state === 'header' ? 4 : 4 + this.datasize;
      this.fail(
        'UWSGI_TRUNCATED',
        `uwsgi packet truncated: the connection closed after ${this.buffered} of ${want} head bytes`,
      );
    }
  }

  private readHeader(pending: Buffer): boolean {
    const modifier1 = pending[0] ?? 0;
    this.datasize = pending.readUInt16LE(1);
    if (modifier1 !== 0) {
      // An HTTP request line starts with a method in capitals: a client speaking HTTP to the
      // uwsgi socket, not a gateway with an unusual modifier.
      const start = pending.subarray(0, 4).toString('latin1');
      this.fail(
        'UWSGI_MODIFIER',
        /^[A-Z]{3}[A-Z ]$/.test(start)
          ? `this is not a uwsgi packet but an HTTP request ("${start.trimEnd()} …"): this socket speaks the uwsgi protocol (nginx uwsgi_pass); serve HTTP clients on an http-socket`
          : `uwsgi modifier1 ${modifier1} is not supported: only 0 (a request with vars) is; drop uwsgi_modifier1 from the nginx config`,
      );
      return false;
    }
    if (this.datasize > this.bufferSize) {
      this.fail(
        'VARS_TOO_LARGE',
        `uwsgi vars block of ${this.datasize} bytes is over buffer-size (${this.bufferSize} bytes)`,
        431,
      );
      return false;
    }
    this.state = 'vars';
    return true;
  }

  private readVars(block: Buffer): void {
    const line: Array<string | undefined> = [
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ];
    let contentLength: number | null = null;
    // A bad CONTENT_LENGTH refuses the request, but only once the whole block is known to be
    // well formed: the refusal is then logged with the request's method and target.
    let badLength: string | undefined;
    let at = 0;
    while (at < block.length) {
      if (at + 2 > block.length) {
        this.badVars(at, 'a key length cut short by the block end');
        return;
      }
      const keyLength = block.readUInt16LE(at);
      at += 2;
      if (keyLength === 0) {
        this.badVars(at - 2, 'an empty key');
        return;
      }
      if (at + keyLength + 2 > block.length) {
        this.badVars(at, `a key of ${keyLength} bytes (plus its value length) past the block end`);
        return;
      }
      const lineIndex = lineNameIndex(block, at, keyLength);
      at += keyLength;
      const valueLength = block.readUInt16LE(at);
      at += 2;
      if (at + valueLength > block.length) {
        this.badVars(at, `a value of ${valueLength} bytes past the block end`);
        return;
      }
      if (lineIndex >= 0) {
        const value = valueLength === 0 ? '' : (block as Latin1Buffer).latin1Slice(at, at + valueLength);
        line[lineIndex] = value;
        if (lineIndex === contentLengthIndex) {
          // Every CONTENT_LENGTH must be valid, not only the one that counts.
          try {
            contentLength = parseContentLength(value);
          } catch (err) {
            badLength ??= (err as Error).message;
          }
        }
      }
      at += valueLength;
    }
    const vars = new UwsgiVars(block, line);
    if (badLength !== undefined) {
      this.fail('BAD_CONTENT_LENGTH', badLength, 400, vars);
      return;
    }
    const transferEncoding = line[transferEncodingIndex];
    if (contentLength === null && transferEncoding) {
      if (!endsChunked(transferEncoding)) {
        // RFC 9112 §6.3: a request whose last transfer coding is not chunked has no knowable end.
        this.fail(
          'UNKNOWN_BODY_LENGTH',
          `the request has Transfer-Encoding "${transferEncoding}" and no CONTENT_LENGTH: its body's end cannot be known (chunked must be the last coding)`,
          400,
          vars,
        );
        return;
      }
      this.chunked = new ChunkedDecoder((event) => this.onChunked(event));
      this.state = 'body';
      this.emit({ kind: 'request', vars, contentLength: null });
      return;
    }
    this.bodyLeft = contentLength ?? 0;
    this.state = this.bodyLeft > 0 ? 'body' : 'done';
    this.emit({ kind: 'request', vars, contentLength: this.bodyLeft });
    if (this.state === 'done') this.emit({ kind: 'end' });
  }

  private onChunked(event: ChunkedEvent): void {
    if (event.kind === 'data') this.emit({ kind: 'body', data: event.data });
    else if (event.kind === 'end') {
      this.state = 'done';
      this.emit({ kind: 'end' });
    } else {
      this.state = 'failed';
      this.emit(event);
    }
  }

  private feedBody(chunk: Buffer): void {
    if (this.state !== 'body') return;
    if (this.chunked) {
      this.chunked.push(chunk);
      return;
    }
    const data = chunk.length > this.bodyLeft ? chunk.subarray(0, this.bodyLeft) : chunk;
    this.bodyLeft -= data.length;
    if (data.length > 0) this.emit({ kind: 'body', data });
    if (this.bodyLeft === 0) {
      this.state = 'done';
      this.emit({ kind: 'end' });
    }
  }

  private badVars(offset: number, problem: string): void {
    this.fail('UWSGI_BAD_VARS', `malformed uwsgi vars at offset ${offset}: ${problem}`);
  }

  private fail(code: string, message: string, status = 400, vars?: UwsgiVars): void {
    this.state = 'failed';
    this.chunks = [];
    const error = new BadRequestError(code, message, status);
    this.emit(vars ? { kind: 'error', error, vars } : { kind: 'error', error });
  }
}
