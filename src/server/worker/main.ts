// A worker process: receives the config and the listening sockets from the master, loads the
// app, serves until told to stop. It never binds sockets and never decides about its own life
// except to ask for recycling (max-requests) or to exit when its master is gone.
import process from 'node:process';
import { onBrokenPipe } from '../../common/broken-pipe.js';
import { installLightResponse } from '../app/light-response.js';
import { loadApp } from '../app/load-app.js';
import type { ServeConfig } from '../config/serve-config.js';
import { describeError, thrownAt } from '../errors.js';
import { closeHandle, type StreamHandle } from '../gateway/socket-handoff.js';
import { type MasterMessage, type WorkerCounters, WorkerExit, type WorkerMessage } from '../ipc.js';
import { createAccessLog } from '../log/access-log.js';
import { createLogger, type Logger } from '../log/logger.js';
import type { ConnectionContext, ProtocolLimits, RequestRecord } from '../protocol.js';
import { createAllowList } from './allow-from.js';
import { createFront, type Front } from './fronts.js';
import { startStallWatchdog } from './stall-watchdog.js';

const send = (message: WorkerMessage, then?: () => void): void => {
  if (process.connected) process.send?.(message, undefined, {}, () => then?.());
  else then?.();
};

let config: ServeConfig | undefined;
let context: ConnectionContext | undefined;
let expectedListeners = 0;
let maxRequests = 0;
let recycleAsked = false;
/** The fronts by listener index (the master's order). */
const fronts = new Map<number, Front>();
const counters: WorkerCounters = { requests: 0, rss: 0, statuses: [0, 0, 0, 0] };
let stopping = false;
let flushAccessLog = (): void => {};
let log: Logger = createLogger('worker', false, (line) => process.stderr.write(line));

async function start(message: Extract<MasterMessage, { type: 'start' }>): Promise<void> {
  config = message.config;
  expectedListeners = message.listeners;
  maxRequests = message.maxRequests;
  log = createLogger(`worker ${message.id}`, config.logformat === 'json', (line) =>
    process.stderr.write(line),
  );
  if (config.chdir) process.chdir(config.chdir);
  installLightResponse();
  let app: Awaited<ReturnType<typeof loadApp>>;
  try {
    app = await loadApp(config.app);
  } catch (err) {
    const text = describeError(err);
    log.warn('app.load-failed', { error: text, at: thrownAt(err) });
    stopping = true;
    send({ type: 'boot-error', message: text }, () => process.exit(WorkerExit.appLoad));
    return;
  }
  const accessLog = config.disableLogging
    ? undefined
    : createAccessLog(config.logformat, (text) => process.stdout.write(text));
  flushAccessLog = () => accessLog?.flush();
  const limits: ProtocolLimits = {
    bufferSize: config.bufferSize,
    limitPost: config.limitPost,
    headersTimeoutMs: config.socketTimeout * 1000,
    bodyTimeoutMs: config.socketTimeout * 1000,
    harakiriMs: config.harakiri * 1000,
  };
  context = {
    app,
    limits,
    watchdog:
      config.harakiri > 0
        ? startStallWatchdog(
            config.harakiri * 1000,
            `worker ${message.id}`,
            accessLog ? config.logformat : undefined,
          )
        : undefined,
    log: (line) => log.warn(line),
    onRequest(record: RequestRecord) {
      count(record.status);
      accessLog?.record(record);
    },
    countRequest: accessLog ? undefined : count,
  };
  maybeReady();
}

/** Counts a finished request for the stats, and asks for recycling at max-requests. */
function count(status: number): void {
  counters.requests++;
  const bucket = Math.min(3, Math.max(0, Math.floor(status / 100) - 2));
  counters.statuses[bucket as 0 | 1 | 2 | 3]++;
  if (maxRequests > 0 && counters.requests >= maxRequests && !recycleAsked) {
    recycleAsked = true;
    send({ type: 'recycle', reason: `max-requests (${maxRequests}) reached` });
  }
}

const pendingHandles: Array<{ message: Extract<MasterMessage, { type: 'listener' }>; handle: object }> = [];

function attach(message: Extract<MasterMessage, { type: 'listener' }>, handle: object): void {
  if (!context || !config) {
    pendingHandles.push({ message, handle });
    return;
  }
  const front = createFront(message.protocol, context, {
    keepAliveMs: config.httpKeepalive * 1000,
    uwsgiAllowed: createAllowList(config.uwsgiAllowFrom),
    gatewayIo: config.gatewayIo,
  });
  front.listen(handle, config.listen);
  fronts.set(message.index, front);
  maybeReady();
}

function maybeReady(): void {
  if (!context) return;
  for (const pending of pendingHandles.splice(0)) attach(pending.message, pending.handle);
  if (fronts.size === expectedListeners) send({ type: 'ready' });
}

/**
 * Stops taking connections, finishes the requests in progress, then exits. `handOff`: the
 * connections a web server keeps between requests (FastCGI keep-conn) go to the master for
 * another worker rather than being closed under the web server (see gateway/socket-handoff.ts).
 */
function stop(graceful: boolean, exitCode: number = WorkerExit.ok, handOff = false): void {
  if (stopping) return;
  stopping = true;
  flushAccessLog();
  if (!graceful) process.exit(exitCode);
  let open = fronts.size;
  // Handles on their way to the master: node:child_process sends one at a time, and one still
  // queued when the process exits would be closed under the web server.
  let sending = 0;
  const done = (): void => {
    if (open > 0 || sending > 0) return;
    flushAccessLog();
    process.exit(exitCode);
  };
  done();
  for (const [index, front] of fronts) {
    const toMaster = (handle: StreamHandle): void => {
      const message: WorkerMessage = { type: 'handoff', index };
      if (!process.connected || !process.send) {
        closeHandle(handle);
        return;
      }
      sending++;
      // Sent or not, this process's copy goes: node:child_process closes a sent socket only
      // for net.Socket, not for a bare handle, and an open copy would keep the connection
      // from ever closing.
      process.send(message, handle as never, {}, () => {
        closeHandle(handle);
        sending--;
        done();
      });
    };
    front.drain(
      () => {
        open--;
        done();
      },
      handOff ? toMaster : undefined,
    );
  }
}

/**
 * The app threw where no request can catch it (a timer, an event handler, a promise rejected
 * with nobody awaiting it): Node would end the process at once, cutting every request in
 * progress and losing the access log's buffer. Instead: one log record (message and where),
 * a replacement asked for (the master's recycle: it is ready before this one is retired), no
 * new connections taken (they wait in the listen queue for the others or the replacement), the
 * requests in progress finished, exit 6. Within reload-mercy; a second throw ends it at once.
 * What Node advises after such an error: no new work for a process whose state is unknown.
 */
function onUncaught(err: unknown): void {
  log.warn('app.uncaught', { error: describeError(err), at: thrownAt(err) });
  flushAccessLog();
  if (stopping) process.exit(WorkerExit.uncaught);
  send({ type: 'recycle', reason: 'uncaught exception in the app' });
  setTimeout(() => process.exit(WorkerExit.uncaught), (config?.reloadMercy ?? 0) * 1000).unref();
  stop(true, WorkerExit.uncaught, true);
}

process.on('uncaughtException', onUncaught);
// Workers write the access log and their records to the master's stdout and stderr.
onBrokenPipe('ignore');

process.on('message', (message: MasterMessage, handle?: unknown) => {
  switch (message.type) {
    case 'start':
      void start(message);
      break;
    case 'listener':
      attach(message, handle as object);
      break;
    case 'ping':
      try {
        counters.rss = process.memoryUsage.rss();
      } catch {
        // Reading it opens /proc/self/stat: out of file descriptors, the last value stands.
      }
      send({ type: 'pong', counters });
      break;
    case 'stop':
      stop(message.graceful, WorkerExit.ok, message.handOff);
      break;
    case 'adopt': {
      const front = fronts.get(message.index);
      if (front) front.adopt(handle as object);
      else closeHandle(handle);
      break;
    }
  }
});

// The master owns reloads and stops; a worker dies with it rather than serve unsupervised.
process.on('disconnect', () => stop(true, WorkerExit.orphaned));
process.on('SIGHUP', () => {});
process.on('SIGTERM', () => stop(true));
// systemd's KillSignal (SIGQUIT) and Ctrl-C reach the workers too, not only the master: stop
// at once, cleanly, rather than die by the signal (a core dump for SIGQUIT).
process.on('SIGQUIT', () => stop(false));
process.on('SIGINT', () => stop(false));
