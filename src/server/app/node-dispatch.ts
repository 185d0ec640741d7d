// Runs a Node `(req, res)` listener for front-ends that are not node:http (CGI, uwsgi, FastCGI).
// The listener gets a real IncomingMessage and ServerResponse; the response's socket is a
// capture stream that parses the HTTP head Node writes and hands head and body to the sink.
import type * as Http from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex, Readable } from 'node:stream';
import { framedHeaders } from './body-allowed.js';
import { type NodeListener, watchListenerResult } from './handler.js';
import type { RequestHead } from './request-head.js';
import { forwardableHeaders, type ResponseHead, type ResponseSink } from './response-sink.js';
import { streamModule } from './stream-module.js';

const headEnd = Buffer.from('\r\n\r\n');

// node:http, loaded the first time a Node listener runs: a CGI process answering a fetch
// handler never needs it.
let http: typeof Http | undefined;

function parseHead(raw: string): ResponseHead {
  const [statusLine = '', ...lines] = raw.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine);
  if (!match) throw new Error(`unexpected response head: ${JSON.stringify(statusLine)}`);
  const headers: Array<[string, string]> = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  const status = Number(match[1]);
  return { status, statusText: match[2] ?? '', headers: framedHeaders(status, forwardableHeaders(headers)) };
}

/** The stream a ServerResponse writes raw HTTP into; it never carries request bytes. */
interface CaptureSocket extends Duplex {
  onResume: (() => void) | undefined;
}
type CaptureSocketClass = new (sink: ResponseSink, fail: (err: Error) => void) => CaptureSocket;
let captureSocketClass: CaptureSocketClass | undefined;

// Defined the first time a Node listener runs: it extends Duplex, and a CGI process answering a
// fetch handler never loads node:stream.
function defineCaptureSocket(): CaptureSocketClass {
  return class extends streamModule().Duplex {
    private pending: Buffer[] = [];
    private headSent = false;
    onResume: (() => void) | undefined;

    constructor(
      private readonly sink: ResponseSink,
      private readonly fail: (err: Error) => void,
    ) {
      super({ allowHalfOpen: true });
    }

    override _read(): void {}

    // IncomingMessage asks its socket to resume when the app wants more body bytes.
    override resume(): this {
      this.onResume?.();
      return this;
    }

    override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error) => void): void {
      if (this.headSent) {
        this.forward(chunk, done);
        return;
      }
      this.pending.push(chunk);
      const buffered = Buffer.concat(this.pending);
      const at = buffered.indexOf(headEnd);
      if (at < 0) {
        done();
        return;
      }
      this.pending = [];
      try {
        this.sink.head(parseHead(buffered.subarray(0, at).toString('latin1')));
      } catch (err) {
        this.fail(err as Error);
        done(err as Error);
        return;
      }
      this.headSent = true;
      this.forward(buffered.subarray(at + headEnd.length), done);
    }

    private forward(bytes: Buffer, done: (err?: Error) => void): void {
      const pending = bytes.length > 0 ? this.sink.write(bytes) : undefined;
      if (pending) pending.then(() => done(), done);
      else done();
    }

    // Present so ServerResponse can treat this as a net.Socket.
    setTimeout(): this {
      return this;
    }
    setNoDelay(): this {
      return this;
    }
    setKeepAlive(): this {
      return this;
    }
  };
}

export function dispatchNode(
  listener: NodeListener,
  head: RequestHead,
  body: Readable | null,
  sink: ResponseSink,
): Promise<void> {
  http ??= createRequire(import.meta.url)('node:http') as typeof Http;
  const { IncomingMessage, ServerResponse } = http;
  return new Promise<void>((resolve, reject) => {
    captureSocketClass ??= defineCaptureSocket();
    const socket = new captureSocketClass(sink, reject);
    const req = new IncomingMessage(socket as never);
    req.method = head.method;
    req.url = head.target;
    req.httpVersion = head.httpVersion;
    req.httpVersionMajor = 1;
    req.httpVersionMinor = head.httpVersion === '1.0' ? 0 : 1;
    for (const [name, value] of head.headers) {
      req.rawHeaders.push(name, value);
      const existing = req.headers[name];
      if (name === 'set-cookie') req.headers[name] = [...(req.headers[name] ?? []), value];
      else req.headers[name] = existing === undefined ? value : `${existing}, ${value}`;
    }
    Object.defineProperty(socket, 'remoteAddress', { value: head.remoteAddress });
    Object.defineProperty(socket, 'remotePort', { value: head.remotePort });
    Object.defineProperty(socket, 'encrypted', { value: head.scheme === 'https' ? true : undefined });

    if (body) {
      // Request bytes flow into req with backpressure: pause the source when req is full.
      body.on('data', (chunk: Buffer) => {
        if (!req.push(chunk)) body.pause();
      });
      body.on('end', () => {
        req.complete = true;
        req.push(null);
      });
      body.on('error', (err) => {
        req.destroy(err);
        // A listener waiting for 'end' would wait forever: the request is answered with the
        // body's failure (its status) unless the response is already on its way.
        reject(err);
      });
      socket.onResume = () => body.resume();
    } else {
      req.complete = true;
      req.push(null);
    }

    const res = new ServerResponse(req);
    // The gateway frames the body (CGI ends at EOF, uwsgi closes the connection): no chunking.
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    res.assignSocket(socket as never);
    res.on('finish', () => {
      socket.end();
    });
    let ended = false;
    socket.on('finish', () => {
      ended = true;
      sink.end();
      resolve();
    });
    res.on('error', reject);
    // res.destroy(err) destroys the socket under it: the response is cut, never passed off as
    // complete (and the error, unheard, would otherwise end the worker as an uncaught one).
    let destroyedWith: Error | undefined;
    socket.on('error', (err: Error) => {
      destroyedWith = err;
    });
    socket.on('close', () => {
      if (ended) return;
      const why = destroyedWith ? `: ${destroyedWith.message}` : '';
      reject(new Error(`the app destroyed its response before it ended (res.destroy)${why}`));
    });
    // Told to stop (the client left, the deadline passed): req and res get 'close', as they do
    // from node:http when a client goes away, and whatever the listener writes goes nowhere.
    sink.onGone?.(() => {
      if (res.writableFinished) return;
      socket.destroy();
      req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    });
    try {
      watchListenerResult(listener(req, res), reject);
    } catch (err) {
      reject(err);
    }
  });
}
