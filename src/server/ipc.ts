// Messages between the master and its workers over the fork IPC channel.
import type { ServeConfig } from './config/serve-config.js';

/** Exit codes a worker uses so the master can tell a broken app from a crash. */
export const WorkerExit = {
  ok: 0,
  /** The app module could not be loaded: retrying soon will not help. */
  appLoad: 3,
  /** The worker lost its master (IPC channel closed). */
  orphaned: 4,
  /** The watchdog killed the worker: a request held the event loop past harakiri. */
  harakiri: 5,
  /** The app threw outside any request (a timer, an event, a rejected promise nobody awaited). */
  uncaught: 6,
} as const;

export type MasterMessage =
  | { type: 'start'; id: number; config: ServeConfig; maxRequests: number; listeners: number }
  /** One listening socket; the net.Server handle travels with the message. */
  | { type: 'listener'; index: number; protocol: 'http' | 'uwsgi' | 'fastcgi' }
  | { type: 'ping' }
  /**
   * `handOff`: kept FastCGI connections go back to the master (a 'handoff' message each) for
   * another worker, instead of being closed; false when the whole server stops.
   */
  | { type: 'stop'; graceful: boolean; handOff: boolean }
  /** A connection another worker handed on, for listener `index`; its handle travels along. */
  | { type: 'adopt'; index: number };

export interface WorkerCounters {
  requests: number;
  rss: number;
  /** Responses by status class: 2xx, 3xx, 4xx, 5xx. */
  statuses: [number, number, number, number];
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'pong'; counters: WorkerCounters }
  /** max-requests reached: the worker asks to be replaced. */
  | { type: 'recycle'; reason: string }
  | { type: 'boot-error'; message: string }
  /** A stopping worker's idle kept connection of listener `index`; its handle travels along. */
  | { type: 'handoff'; index: number };
