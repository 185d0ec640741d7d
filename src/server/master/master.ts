// The master: binds the sockets, forks the workers, and supervises them. Signal handlers only
// queue; one loop acts on them in order (gunicorn's arbiter is the model):
//   SIGHUP  chain reload: per slot, a new worker boots and is ready before the old one drains
//   SIGTERM graceful stop        SIGINT, SIGQUIT  fast stop        SIGUSR1  stats to the log
// It also reaps and respawns workers (with back-off), kills workers that stop answering
// heartbeats for `harakiri` seconds, and recycles them on max-requests / reload-on-rss.
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ActivatedSocket } from '../../infra/socket-activation.js';
import type { ServeConfig } from '../config/serve-config.js';
import { ServerError } from '../errors.js';
import { closeHandle } from '../gateway/socket-handoff.js';
import { type MasterMessage, WorkerExit, type WorkerMessage } from '../ipc.js';
import type { Logger } from '../log/logger.js';
import { bindListeners, closeListeners, type Listener } from './listeners.js';
import { type StatsServer, startStatsServer } from './stats-server.js';
import { newCounters, type WorkerRecord } from './worker-slot.js';

const workerMain = fileURLToPath(new URL('../worker/main.js', import.meta.url));
const bootTimeoutMs = 60_000;
const maxBootFailures = 3;

/** Lifecycle notifications for a service manager (systemd's sd_notify); all optional. */
export interface MasterHooks {
  ready?(): void;
  reloading?(): void;
  stopping?(): void;
  status?(text: string): void;
}

export interface MasterDeps {
  log: Logger;
  env: NodeJS.ProcessEnv;
  hooks?: MasterHooks;
  /** Listening descriptors passed by systemd (socket activation), matched to config.sockets. */
  activated?: ActivatedSocket[];
}

/**
 * Sends to a worker over IPC. A worker can die between the `connected` check and the write
 * (systemd signals the whole cgroup at once); the failure then goes to the callback instead of
 * an 'error' event nobody handles, which would crash the master. The worker's 'exit' event does
 * the bookkeeping.
 */
function sendTo(child: ChildProcess, message: MasterMessage, handle?: unknown): void {
  if (child.connected) child.send(message, handle as never, {}, () => {});
}

type Signal = 'SIGHUP' | 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGUSR1';
const handledSignals: Signal[] = ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGUSR1'];

export class Master {
  private listeners: Listener[] = [];
  private workers: WorkerRecord[] = [];
  private signals: Signal[] = [];
  private handling = false;
  private stopping: 'graceful' | 'fast' | undefined;
  private bootFailures = 0;
  /** Whether the last worker that failed to boot could not load the app module (WorkerExit.appLoad). */
  private lastBootWasAppLoad = false;
  /** Counts spawns; each worker keeps its number (WorkerRecord.spawned). */
  private spawns = 0;
  private lastBootError = '';
  private respawnDelayMs = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private statsServer: StatsServer | undefined;
  private finished!: (code: number) => void;
  private readonly startedAt = Date.now();
  private readonly hooks: MasterHooks;

  constructor(
    private readonly config: ServeConfig,
    private readonly deps: MasterDeps,
  ) {
    this.hooks = deps.hooks ?? {};
  }

  /** Serves until stopped; resolves with the process exit code. */
  async run(): Promise<number> {
    const done = new Promise<number>((resolve) => {
      this.finished = resolve;
    });
    this.listeners = await bindListeners(this.config, this.deps.activated);
    for (const listener of this.listeners) {
      this.deps.log.event('socket.bound', { protocol: listener.spec.protocol, address: listener.bound });
    }
    if (this.config.stats) {
      try {
        this.statsServer = await startStatsServer(this.config.stats, () => this.freshStats());
      } catch (err) {
        closeListeners(this.listeners, true);
        throw err;
      }
    }
    // Before uid/gid take effect, as uWSGI's pidfile: /run is root's to write.
    if (this.config.pidfile) this.writePidfile(this.config.pidfile);
    this.dropPrivileges();
    const onSignal = (signal: Signal): void => this.queue(signal);
    for (const signal of handledSignals) process.on(signal, onSignal);
    this.heartbeat = setInterval(() => this.checkWorkers(), 1000);

    const booted = await Promise.all(
      Array.from({ length: this.config.processes }, (_, i) => this.spawnReady(i + 1)),
    );
    if (booted.every((ok) => ok)) {
      this.deps.log.event('master.ready', { pid: process.pid, workers: this.config.processes });
      this.hooks.ready?.();
      this.reportStatus();
    } else if (!this.stopping) {
      this.deps.log.warn('master.halt', {
        reason: this.lastBootWasAppLoad
          ? 'the app failed to load'
          : `the app failed to boot ${maxBootFailures} times`,
        error: this.lastBootError,
      });
      await this.stop('fast', WorkerExit.appLoad);
    }
    const code = await done;
    for (const signal of handledSignals) process.off(signal, onSignal);
    return code;
  }

  /** Bound addresses, e.g. for tests that asked for port 0. */
  get addresses(): string[] {
    return this.listeners.map((listener) => listener.bound);
  }

  stats(): object {
    return {
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      sockets: this.listeners.map((l) => ({ protocol: l.spec.protocol, address: l.bound })),
      workers: this.workers.map((w) => ({
        slot: w.slot,
        pid: w.pid,
        state: w.state,
        requests: w.counters.requests,
        statuses: {
          '2xx': w.counters.statuses[0],
          '3xx': w.counters.statuses[1],
          '4xx': w.counters.statuses[2],
          '5xx': w.counters.statuses[3],
        },
        rssBytes: w.counters.rss,
        uptimeSeconds: Math.round((Date.now() - w.startedAt) / 1000),
      })),
      requests: this.workers.reduce((sum, w) => sum + w.counters.requests, 0),
    };
  }

  /**
   * stats() once every serving worker has answered a ping sent now (at most 200 ms): a
   * worker's counters otherwise date from the last heartbeat, up to a second old.
   */
  async freshStats(): Promise<object> {
    const asked = Date.now();
    const waiting = this.workers.filter((w) => w.state === 'ready' && w.child.connected);
    for (const worker of waiting) sendTo(worker.child, { type: 'ping' });
    for (
      let waited = 0;
      waited < 200 && waiting.some((w) => w.lastPong < asked && w.child.connected);
      waited += 5
    )
      await new Promise((resolve) => setTimeout(resolve, 5));
    return this.stats();
  }

  private queue(signal: Signal): void {
    // Stops preempt whatever is running (a reload checks `stopping` between steps).
    if (signal === 'SIGTERM') void this.stop('graceful', 0);
    else if (signal === 'SIGINT' || signal === 'SIGQUIT') void this.stop('fast', 0);
    else {
      this.signals.push(signal);
      void this.handleSignals();
    }
  }

  private async handleSignals(): Promise<void> {
    if (this.handling) return;
    this.handling = true;
    try {
      for (let signal = this.signals.shift(); signal; signal = this.signals.shift()) {
        if (this.stopping) break;
        if (signal === 'SIGHUP') {
          // Several HUPs during one reload ask for one more reload, not one each.
          this.signals = this.signals.filter((s) => s !== 'SIGHUP');
          await this.chainReload();
        } else if (signal === 'SIGUSR1') {
          this.deps.log.event('master.stats', { stats: await this.freshStats() });
        }
      }
    } finally {
      this.handling = false;
    }
  }

  /** Why the last reload was aborted, until the next one: in STATUS=, for a deploy to read. */
  private reloadProblem: string | undefined;
  /** Chain reloads over (done or aborted) since the start: in STATUS= as `reloads: N`. */
  private reloads = 0;

  private async chainReload(): Promise<void> {
    this.deps.log.event('reload.start', { workers: this.config.processes });
    this.reloadProblem = undefined;
    this.hooks.reloading?.();
    for (let slot = 1; slot <= this.config.processes && !this.stopping; slot++) {
      const old = this.serving(slot);
      if (old) old.replacing = true;
      if (!(await this.spawnReady(slot))) {
        if (old) old.replacing = false;
        this.deps.log.warn('reload.aborted', {
          reason: 'the new app does not boot; the running workers keep serving',
          error: this.lastBootError,
        });
        // One line of at most 300 characters: STATUS= is a line of the notify datagram.
        const error = this.lastBootError.replace(/\s*\n\s*/g, ' / ');
        this.reloadProblem = `reload aborted, the new app does not boot: ${error.length > 300 ? `${error.slice(0, 300)}…` : error}`;
        break;
      }
      if (old) this.retire(old);
    }
    this.deps.log.event('reload.done', { workers: this.config.processes });
    this.reloads++;
    this.hooks.ready?.();
    this.reportStatus();
  }

  /**
   * One serving worker per slot: of the slot's ready workers, the one spawned last serves and
   * the others are retired (gracefully). Replacements can overlap (a max-requests recycle under
   * way when a SIGHUP reload reaches the slot): each asked for a worker, and without this both
   * would serve, the one spawned before the reload still running the old code.
   */
  private settleSlot(slot: number): void {
    const ready = this.workers.filter((w) => w.slot === slot && w.state === 'ready');
    const newest = ready.reduce((a, b) => (b.spawned > a.spawned ? b : a), ready[0] as WorkerRecord);
    for (const worker of ready) if (worker !== newest) this.retire(worker);
  }

  /** The worker currently serving a slot (not one booting to replace it, not one draining). */
  private serving(slot: number): WorkerRecord | undefined {
    return this.workers.find((w) => w.slot === slot && w.state === 'ready');
  }

  /** Boots a worker into `slot`, retrying up to the boot-failure limit; true once one is ready. */
  private async spawnReady(slot: number): Promise<boolean> {
    for (;;) {
      if (this.stopping) return false;
      if (await this.spawn(slot)) {
        this.bootFailures = 0;
        return true;
      }
      // The module itself failed to load (a syntax error, a throw at import): loading it again
      // gives the same answer, so the first failure decides, as in gunicorn.
      if (this.lastBootWasAppLoad || ++this.bootFailures >= maxBootFailures) {
        this.bootFailures = 0;
        return false;
      }
    }
  }

  private spawn(slot: number): Promise<boolean> {
    const child: ChildProcess = fork(workerMain, [], {
      env: { ...this.deps.env, ...Object.fromEntries(this.config.env) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [],
    });
    const worker: WorkerRecord = {
      slot,
      spawned: ++this.spawns,
      child,
      pid: child.pid ?? 0,
      state: 'booting',
      startedAt: Date.now(),
      lastPong: Date.now(),
      counters: newCounters(),
      replacing: false,
      bootError: undefined,
      mercyTimer: undefined,
    };
    this.workers.push(worker);
    this.deps.log.event('worker.spawn', { slot, pid: worker.pid });
    const send = (message: MasterMessage, handle?: unknown): void => sendTo(child, message, handle);
    // Spread max-requests over the workers so they do not all recycle at the same moment.
    const delta = this.config.maxRequestsDelta * ((slot - 1) / Math.max(1, this.config.processes));
    send({
      type: 'start',
      id: slot,
      config: this.config,
      maxRequests: this.config.maxRequests > 0 ? this.config.maxRequests + Math.round(delta) : 0,
      listeners: this.listeners.length,
    });
    this.listeners.forEach((listener, index) => {
      const handle = listener.slots?.[slot - 1] ?? listener.handle;
      send({ type: 'listener', index, protocol: listener.spec.protocol }, handle);
    });

    return new Promise<boolean>((resolve) => {
      const bootTimer = setTimeout(() => {
        worker.bootError = `not ready after ${bootTimeoutMs / 1000} s`;
        child.kill('SIGKILL');
      }, bootTimeoutMs);
      child.on('message', (message: WorkerMessage, handle?: unknown) => {
        if (message.type === 'ready' && worker.state === 'booting') {
          clearTimeout(bootTimer);
          worker.state = 'ready';
          this.respawnDelayMs = 0;
          this.deps.log.event('worker.ready', { slot, pid: worker.pid });
          this.settleSlot(slot);
          resolve(true);
        } else if (message.type === 'pong') {
          worker.lastPong = Date.now();
          worker.counters = message.counters;
        } else if (message.type === 'recycle') {
          this.recycle(worker, message.reason);
        } else if (message.type === 'boot-error') {
          worker.bootError = message.message;
        } else if (message.type === 'handoff') {
          this.passOn(worker, message.index, handle);
        }
      });
      // The worker could not be started at all (its Node or pier's worker module gone, say:
      // removed with an old release): a boot failure like any other, never the master's end.
      // Messages sent to it fail too (EPIPE): every error is taken here, and the spawn's ends it.
      let ended = false;
      child.on('error', (err) => {
        worker.bootError ??= `cannot start a worker: ${err.message}`;
        if (child.pid === undefined && !ended) {
          ended = true;
          child.emit('exit', null, null);
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(bootTimer);
        clearTimeout(worker.mercyTimer);
        const wasBooting = worker.state === 'booting';
        this.workers = this.workers.filter((w) => w !== worker);
        this.deps.log.event('worker.exit', {
          slot,
          pid: worker.pid,
          code: code ?? undefined,
          signal: signal ?? undefined,
        });
        if (wasBooting) {
          this.lastBootError =
            worker.bootError ?? `exited with ${signal ?? `code ${code}`} before it was ready`;
          this.lastBootWasAppLoad = worker.bootError !== undefined;
          resolve(false);
          return;
        }
        this.onWorkerGone(slot);
      });
    });
  }

  /** A serving worker died: respawn its slot unless another worker already fills it. */
  private onWorkerGone(slot: number): void {
    if (this.stopping) {
      if (this.workers.length === 0) this.exitNow();
      return;
    }
    if (this.workers.some((w) => w.slot === slot && w.state !== 'stopping')) return;
    // Back-off: immediately the first time, then doubling up to 10 s while workers keep dying.
    const delay = this.respawnDelayMs;
    this.respawnDelayMs = Math.min(10_000, Math.max(100, delay * 2));
    setTimeout(() => {
      void this.spawnReady(slot).then((ok) => {
        if (!ok && !this.stopping && !this.workers.some((w) => w.slot === slot)) {
          this.deps.log.warn('worker.respawn-failed', { slot, error: this.lastBootError });
          this.onWorkerGone(slot);
        }
      });
    }, delay);
  }

  /** Replaces one worker gracefully: its successor is ready before it stops taking requests. */
  private recycle(worker: WorkerRecord, reason: string): void {
    if (worker.replacing || worker.state !== 'ready' || this.stopping) return;
    worker.replacing = true;
    this.deps.log.event('worker.recycle', { slot: worker.slot, pid: worker.pid, reason });
    void this.spawnReady(worker.slot).then((ok) => {
      if (ok) this.retire(worker);
      else worker.replacing = false;
    });
  }

  /** Asks a worker to finish its requests and exit; kills it after reload-mercy. */
  private retire(worker: WorkerRecord, graceful = true): void {
    if (worker.state === 'stopping' && graceful) return;
    worker.state = 'stopping';
    if (worker.child.connected) {
      sendTo(worker.child, { type: 'stop', graceful, handOff: graceful && !this.stopping });
    } else worker.child.kill('SIGTERM');
    const mercyMs = graceful ? this.config.reloadMercy * 1000 : 1000;
    clearTimeout(worker.mercyTimer);
    worker.mercyTimer = setTimeout(() => {
      this.deps.log.warn('worker.mercy-expired', {
        slot: worker.slot,
        pid: worker.pid,
        mercySeconds: mercyMs / 1000,
      });
      worker.child.kill('SIGKILL');
    }, mercyMs);
  }

  /**
   * A stopping worker's kept FastCGI connection goes to the worker now serving its slot (its
   * replacement), else to any ready worker; closed when the server stops or none is ready.
   */
  private passOn(from: WorkerRecord, index: number, handle: unknown): void {
    // A worker that stops itself (an uncaught exception) may still count as its slot's server.
    const to = [this.serving(from.slot), ...this.workers].find(
      (w) => w !== undefined && w !== from && w.state === 'ready' && w.child.connected,
    );
    if (!handle || !to || this.stopping) {
      closeHandle(handle);
      return;
    }
    const message: MasterMessage = { type: 'adopt', index };
    // The master's copy goes once sent (see worker/main.ts stop): kept, it would hold the
    // connection open after the worker closed it, and leak a descriptor per hand-off.
    to.child.send(message, handle as never, {}, () => closeHandle(handle));
  }

  private checkWorkers(): void {
    const now = Date.now();
    for (const worker of this.workers) {
      if (worker.state === 'booting' || !worker.child.connected) continue;
      if (this.config.harakiri > 0 && now - worker.lastPong > this.config.harakiri * 1000 + 3000) {
        // The event loop has not answered for harakiri seconds: a request is stuck in it. The
        // worker's own watchdog thread normally acts first (and answers 504); this is the backstop.
        this.deps.log.warn('worker.harakiri', {
          slot: worker.slot,
          pid: worker.pid,
          silentSeconds: Math.round((now - worker.lastPong) / 1000),
        });
        worker.child.kill('SIGKILL');
        continue;
      }
      if (this.config.reloadOnRss > 0 && worker.counters.rss > this.config.reloadOnRss * 1024 * 1024) {
        this.recycle(
          worker,
          `reload-on-rss: ${Math.round(worker.counters.rss / 1048576)} MB > ${this.config.reloadOnRss} MB`,
        );
      }
      sendTo(worker.child, { type: 'ping' });
    }
    this.reportStatus();
  }

  private reportStatus(): void {
    const ready = this.workers.filter((w) => w.state === 'ready').length;
    const requests = this.workers.reduce((sum, w) => sum + w.counters.requests, 0);
    // The reloads that are over, for whoever waits for one, and the files new workers start
    // from, for whoever removes old releases (pier deploy: fleet/rollout/host-steps.ts passGate,
    // finishHost).
    this.hooks.status?.(
      `${ready} of ${this.config.processes} workers ready, ${requests} requests served by the current workers; reloads: ${this.reloads}; workers start from ${workerMain} on ${process.execPath}${this.reloadProblem ? `; ${this.reloadProblem}` : ''}`,
    );
  }

  private exitCode = 0;

  async stop(mode: 'graceful' | 'fast', exitCode: number): Promise<void> {
    if (this.stopping === 'fast' || this.stopping === mode) return;
    this.stopping = mode;
    this.exitCode = exitCode;
    this.hooks.stopping?.();
    this.deps.log.event('master.stop', { mode, workers: this.workers.length });
    clearInterval(this.heartbeat);
    this.statsServer?.close(this.config.vacuum);
    // The sockets close first so a restarted server can bind them while old workers drain.
    closeListeners(this.listeners, this.config.vacuum);
    if (this.workers.length === 0) {
      this.exitNow();
      return;
    }
    for (const worker of this.workers) this.retire(worker, mode === 'graceful');
  }

  private exitNow(): void {
    if (this.config.pidfile && this.config.vacuum) removeOwnPidfile(this.config.pidfile);
    this.deps.log.event('master.exit', { code: this.exitCode });
    this.finished(this.exitCode);
  }

  private writePidfile(file: string): void {
    try {
      writeFileSync(file, `${process.pid}\n`);
    } catch (cause) {
      closeListeners(this.listeners, this.config.vacuum);
      throw new ServerError(
        'PIDFILE',
        `cannot write the pidfile ${file}: ${(cause as Error).message}; check that its directory exists and is writable by ${process.getuid?.() === 0 ? 'root' : 'this user'}`,
      );
    }
  }

  private dropPrivileges(): void {
    const { uid, gid } = this.config;
    if (!uid && !gid) return;
    try {
      const id = (value: string): string | number => (/^\d+$/.test(value) ? Number(value) : value);
      if (gid) process.setgid?.(id(gid));
      if (uid) {
        // Drop root's supplementary groups too, or the workers keep them.
        process.setgroups?.(gid ? [id(gid)] : []);
        process.setuid?.(id(uid));
      }
    } catch (cause) {
      closeListeners(this.listeners, this.config.vacuum);
      throw new ServerError(
        'PRIVILEGES',
        `cannot switch to uid=${uid ?? '-'} gid=${gid ?? '-'}: ${(cause as Error).message}`,
      );
    }
    this.deps.log.event('master.privileges', { uid, gid });
  }
}

/** Removes the pidfile only while it still names this process: a file another master (or
 * anything else) wrote there since is left alone. */
function removeOwnPidfile(file: string): void {
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
  } catch {
    // gone already, or not ours to read
  }
}
