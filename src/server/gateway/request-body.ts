// The request body of a gateway request as a Node Readable for the app. The front-end feeds it
// the bytes its parser emits and pauses its socket when `feed` says the app is behind; the
// stream asks for more through `onDemand`. limit-post and the declared CONTENT_LENGTH are
// enforced as bytes arrive, so a body without a declared length is still bounded; a body that
// stops arriving while the app waits for it fails with 408 after `idleMs` (socket-timeout).
import { Readable } from 'node:stream';
import { BadRequestError } from '../errors.js';

export interface RequestBodyOptions {
  /** CONTENT_LENGTH, or null when the gateway did not declare one. */
  declared: number | null;
  /** 0 = unlimited. */
  limitPost: number;
  onDemand: () => void;
  /** Longest wait for the next byte while the app wants more; 0 = unbounded. */
  idleMs?: number;
}

export class RequestBody extends Readable {
  private received = 0;
  private complete = false;
  // Made on the first wait, then re-armed: most bodies arrive with their request.
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RequestBodyOptions) {
    super();
    // A failed body is reported to the app through its reads; without a listener here an app
    // that never reads its body would turn the failure into an uncaught exception.
    this.on('error', () => {});
  }

  override _read(): void {
    this.awaitBytes();
    this.options.onDemand();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.idleTimer);
    callback(error);
  }

  private awaitBytes(): void {
    const ms = this.options.idleMs;
    if (!ms || this.complete) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => this.onIdle(ms), ms);
  }

  private onIdle(ms: number): void {
    this.fail(
      new BadRequestError(
        'BODY_TIMEOUT',
        `no request body byte within ${ms} ms after ${this.received} bytes (socket-timeout)`,
        408,
      ),
    );
  }

  /** Adds body bytes; false when the app is behind and the source should pause. */
  feed(chunk: Buffer): boolean {
    if (this.destroyed) return true;
    this.received += chunk.length;
    const { declared, limitPost } = this.options;
    if (limitPost > 0 && this.received > limitPost) {
      this.fail(
        new BadRequestError('BODY_TOO_LARGE', `request body is over limit-post (${limitPost} bytes)`, 413),
      );
      return true;
    }
    if (declared !== null && this.received > declared) {
      this.fail(
        new BadRequestError(
          'BODY_TOO_LONG',
          `request body is longer than its CONTENT_LENGTH of ${declared} bytes`,
        ),
      );
      return true;
    }
    const more = this.push(chunk);
    // The app has what it asked for until it reads again (then _read re-arms the wait).
    if (!more) clearTimeout(this.idleTimer);
    else if (this.idleTimer) this.idleTimer.refresh();
    return more;
  }

  /** The gateway says the body is complete. */
  finish(): void {
    if (this.destroyed) return;
    const { declared } = this.options;
    if (declared !== null && this.received < declared) {
      this.fail(
        new BadRequestError(
          'BODY_TRUNCATED',
          `request body ended after ${this.received} of ${declared} bytes (CONTENT_LENGTH)`,
        ),
      );
      return;
    }
    this.complete = true;
    clearTimeout(this.idleTimer);
    this.push(null);
  }

  fail(error: Error): void {
    if (!this.destroyed && !this.complete) this.destroy(error);
  }

  /** The response is done: whatever the app did not read is dropped. */
  discard(): void {
    if (!this.destroyed) this.destroy();
  }
}
