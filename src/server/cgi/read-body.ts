// Reads exactly CONTENT_LENGTH bytes of a CGI request body from stdin, refusing bodies over the
// limit before reading them, bodies that end early or stall, and bodies whose length the server
// did not pass on.
import type { Readable } from 'node:stream';
import { BadRequestError } from '../errors.js';

export interface BodyLimits {
  limitPost: number;
  timeoutMs: number;
}

/**
 * The body length of a CGI request: CONTENT_LENGTH (already checked), or 0 when there is none.
 * Throws a 411 BadRequestError for a request that says it has a body (Transfer-Encoding) but
 * came without CONTENT_LENGTH: stdin then has no knowable end, as a server may keep it open
 * past the body (RFC 3875 §4.2), and reading none of it would hand the app an empty upload.
 */
export function cgiBodyLength(contentLength: number | null, transferEncoding: string | undefined): number {
  if (contentLength !== null) return contentLength;
  if (transferEncoding) {
    throw new BadRequestError(
      'LENGTH_REQUIRED',
      `the request has a body (Transfer-Encoding: ${transferEncoding}) but no CONTENT_LENGTH, so its end in stdin cannot be known: have the web server buffer request bodies and pass CONTENT_LENGTH`,
      411,
    );
  }
  return 0;
}

/** `open` gives the input; it is called only when there are bytes to read. */
export function readExactly(open: () => Readable, length: number, limits: BodyLimits): Promise<Buffer> {
  if (length > limits.limitPost) {
    return Promise.reject(
      new BadRequestError(
        'BODY_TOO_LARGE',
        `request body of ${length} bytes is over the limit of ${limits.limitPost} bytes (limit-post)`,
        413,
      ),
    );
  }
  if (length === 0) return Promise.resolve(Buffer.alloc(0));
  const input = open();
  return new Promise((resolve, reject) => {
    const body = Buffer.allocUnsafe(length);
    let filled = 0;
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      input.off('data', onData).off('end', onEnd).off('error', finish);
      input.pause();
      if (err) reject(err);
      else resolve(body);
    };
    const onData = (chunk: Buffer): void => {
      const take = Math.min(chunk.length, length - filled);
      chunk.copy(body, filled, 0, take);
      filled += take;
      if (filled === length) finish();
    };
    const onEnd = (): void =>
      finish(
        new BadRequestError(
          'BODY_TRUNCATED',
          `request body ended after ${filled} of ${length} bytes (CONTENT_LENGTH)`,
        ),
      );
    const timer = setTimeout(
      () =>
        finish(
          new BadRequestError(
            'BODY_TIMEOUT',
            `request body stalled after ${filled} of ${length} bytes for ${limits.timeoutMs} ms`,
            408,
          ),
        ),
      limits.timeoutMs,
    );
    input.on('data', onData).on('end', onEnd).on('error', finish);
  });
}

/** The most of a refused body a CGI process reads to let its answer through (Apache's LimitRequestBody default). */
export const maxDiscard = 1024 * 1024 * 1024;

/**
 * Reads and drops up to `length` bytes (at most maxDiscard) of a body that was refused, until
 * they are in, stdin ends, or no byte came for `timeoutMs`. Apache's mod_cgid writes the whole
 * request body to the script before it reads the answer: a script that exits first breaks that
 * pipe, and Apache resets the client's connection instead of sending the 413 it was given.
 * Never rejects.
 */
export function discardBody(open: () => Readable, length: number, timeoutMs: number): Promise<void> {
  const wanted = Math.min(length, maxDiscard);
  if (wanted <= 0) return Promise.resolve();
  const input = open();
  return new Promise((resolve) => {
    let read = 0;
    let timer = setTimeout(() => finish(), timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      input.off('data', onData).off('end', finish).off('error', finish);
      input.pause();
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      read += chunk.length;
      clearTimeout(timer);
      if (read >= wanted) finish();
      else timer = setTimeout(() => finish(), timeoutMs);
    };
    input.on('data', onData).on('end', finish).on('error', finish);
  });
}
