// The one registry of `pier serve` options: ini key (= CLI flag), environment variable, value
// parser, default and one-line doc. Parsing, `pier serve --help` and docs/config.md all read it.
import type { ServeConfig, SocketProtocol } from './serve-config.js';
import {
  parseAccount,
  parseAddress,
  parseAllowFrom,
  parseBoolean,
  parseChoice,
  parseEnvPair,
  parseInteger,
  parseOctalMode,
  parseSeconds,
  parseSize,
} from './values.js';

export interface OptionSpec {
  /** ini key and CLI flag (`--name`). */
  name: string;
  /** Other ini keys accepted for the same option (uWSGI spellings). */
  aliases?: string[];
  /** Placeholder for the value in help text. */
  value: string;
  /**
   * What the option means when given without a value: a bare `--vacuum` or `--master` on the
   * command line, as uWSGI's flags are written, or a bare key in an ini file (which reads as
   * `true`, and so means this).
   */
  bare?: string;
  doc: string;
  /** The default as users should read it, for help and docs. */
  shownDefault?: string;
  /** May be given several times; each occurrence adds a value. A source that gives it replaces
   * what earlier sources (defaults, ini, env) gave: `reset` empties it first. */
  repeatable?: { reset(config: ServeConfig): void };
  /** Parse one raw value and store it into the config being built. */
  apply(config: ServeConfig, raw: string): void;
}

export const envName = (option: OptionSpec): string =>
  `PIER_${option.name.toUpperCase().replaceAll('-', '_')}`;

const socketOption = (name: string, protocol: SocketProtocol, doc: string): OptionSpec => ({
  name,
  value: 'ADDRESS',
  doc,
  repeatable: {
    reset: (config) => {
      config.sockets = config.sockets.filter((socket) => socket.protocol !== protocol);
    },
  },
  apply: (config, raw) => {
    config.sockets.push({ protocol, address: parseAddress(raw) });
  },
});

export function defaultConfig(): ServeConfig {
  return {
    sockets: [],
    app: '',
    processes: 1,
    chdir: undefined,
    env: [],
    uid: undefined,
    gid: undefined,
    chmodSocket: undefined,
    vacuum: false,
    listen: 1024,
    reusePort: false,
    harakiri: 0,
    maxRequests: 0,
    maxRequestsDelta: 0,
    reloadOnRss: 0,
    reloadMercy: 30,
    limitPost: 16 * 1024 * 1024,
    bufferSize: 16 * 1024,
    socketTimeout: 10,
    httpKeepalive: 5,
    uwsgiAllowFrom: ['127.0.0.0/8', '::1', 'unix'],
    gatewayIo: 'native',
    stats: undefined,
    logformat: 'combined',
    disableLogging: false,
    pidfile: undefined,
  };
}

export const options: OptionSpec[] = [
  socketOption('http-socket', 'http', 'serve HTTP/1.1 on host:port, :port or a unix socket path'),
  socketOption(
    'socket',
    'uwsgi',
    'serve the uwsgi protocol (nginx uwsgi_pass) on host:port or a unix socket',
  ),
  socketOption(
    'fastcgi-socket',
    'fastcgi',
    'serve FastCGI (nginx fastcgi_pass) on host:port or a unix socket',
  ),
  {
    name: 'app',
    aliases: ['wsgi-file', 'module'],
    value: 'PATH',
    doc: 'the app module (.js or .ts, or a package directory): a fetch handler or a Node (req, res) listener',
    apply: (config, raw) => {
      if (!raw.trim()) throw new Error('expected the path of the app module');
      config.app = raw.trim();
    },
  },
  {
    name: 'processes',
    aliases: ['workers'],
    value: 'N',
    doc: 'number of worker processes',
    shownDefault: '1',
    apply: (config, raw) => {
      config.processes = parseInteger(1, 1024)(raw);
    },
  },
  {
    name: 'chdir',
    value: 'DIR',
    doc: 'change to this directory before loading the app',
    apply: (config, raw) => {
      config.chdir = raw.trim();
    },
  },
  {
    name: 'env',
    value: 'NAME=VALUE',
    doc: 'set an environment variable for the app',
    repeatable: {
      reset: (config) => {
        config.env = [];
      },
    },
    apply: (config, raw) => {
      config.env.push(parseEnvPair(raw));
    },
  },
  {
    name: 'uid',
    value: 'USER',
    doc: 'run as this user after binding the sockets',
    apply: (config, raw) => {
      config.uid = parseAccount(raw);
    },
  },
  {
    name: 'gid',
    value: 'GROUP',
    doc: 'run as this group after binding the sockets',
    apply: (config, raw) => {
      config.gid = parseAccount(raw);
    },
  },
  {
    name: 'chmod-socket',
    value: 'MODE',
    bare: '666',
    doc: 'permissions of unix sockets (octal)',
    apply: (config, raw) => {
      config.chmodSocket = parseOctalMode(raw);
    },
  },
  {
    name: 'vacuum',
    value: 'BOOL',
    bare: 'true',
    doc: 'on exit, remove the unix sockets and the pidfile pier created (without it they stay; the next start replaces a stale socket)',
    shownDefault: 'false',
    apply: (config, raw) => {
      config.vacuum = parseBoolean(raw);
    },
  },
  {
    name: 'listen',
    value: 'N',
    doc: 'listen queue (backlog) of each socket',
    shownDefault: '1024',
    apply: (config, raw) => {
      config.listen = parseInteger(1, 65535)(raw);
    },
  },
  {
    name: 'reuse-port',
    value: 'BOOL',
    bare: 'true',
    doc: "a TCP socket per worker with SO_REUSEPORT: the kernel spreads new connections over the workers evenly instead of whichever wakes first taking them all (Linux; a slot's queue waits while its worker restarts)",
    shownDefault: 'false',
    apply: (config, raw) => {
      config.reusePort = parseBoolean(raw);
    },
  },
  {
    name: 'harakiri',
    value: 'SECONDS',
    doc: 'a request unanswered after this long gets 504; a worker stuck this long is replaced (0 = off)',
    shownDefault: '0',
    apply: (config, raw) => {
      config.harakiri = parseSeconds(raw);
    },
  },
  {
    name: 'max-requests',
    value: 'N',
    doc: 'recycle a worker gracefully after this many requests (0 = never)',
    shownDefault: '0',
    apply: (config, raw) => {
      config.maxRequests = parseInteger(0)(raw);
    },
  },
  {
    name: 'max-requests-delta',
    value: 'N',
    doc: 'add up to N (per worker, spread evenly) to max-requests so workers do not recycle together',
    shownDefault: '0',
    apply: (config, raw) => {
      config.maxRequestsDelta = parseInteger(0)(raw);
    },
  },
  {
    name: 'reload-on-rss',
    value: 'MB',
    doc: 'recycle a worker gracefully when its resident memory passes this many megabytes (0 = off)',
    shownDefault: '0',
    apply: (config, raw) => {
      config.reloadOnRss = parseInteger(0)(raw);
    },
  },
  {
    name: 'reload-mercy',
    value: 'SECONDS',
    doc: 'how long a stopping worker may take to finish its requests before it is killed',
    shownDefault: '30',
    apply: (config, raw) => {
      config.reloadMercy = parseSeconds(raw);
    },
  },
  {
    name: 'limit-post',
    value: 'SIZE',
    doc: 'largest request body accepted; larger gets 413 (0 = unlimited)',
    shownDefault: '16m',
    apply: (config, raw) => {
      config.limitPost = parseSize(raw);
    },
  },
  {
    name: 'buffer-size',
    value: 'SIZE',
    doc: 'largest request head (HTTP headers, uwsgi vars, FastCGI params); larger gets 431',
    shownDefault: '16k',
    apply: (config, raw) => {
      config.bufferSize = parseSize(raw);
      if (config.bufferSize < 1024) throw new Error(`expected at least 1k, got "${raw}"`);
    },
  },
  {
    name: 'socket-timeout',
    value: 'SECONDS',
    doc: 'a client has this long to send a complete request head, and at most this long between request body bytes while the app waits (408 after); at least 0.1, there is no off',
    shownDefault: '10',
    apply: (config, raw) => {
      config.socketTimeout = parseSeconds(raw);
      // There is no "off": a client given no time at all could never send a request.
      if (config.socketTimeout < 0.1) throw new Error(`expected at least 0.1 seconds, got "${raw}"`);
    },
  },
  {
    name: 'http-keepalive',
    value: 'SECONDS',
    doc: 'how long an idle HTTP keep-alive connection stays open (0 = close after each response)',
    shownDefault: '5',
    apply: (config, raw) => {
      config.httpKeepalive = parseSeconds(raw);
    },
  },
  {
    name: 'uwsgi-allow-from',
    value: 'ADDRESS',
    doc: 'peers allowed on uwsgi sockets: address, CIDR or "unix" (default loopback and unix)',
    repeatable: {
      reset: (config) => {
        config.uwsgiAllowFrom = [];
      },
    },
    apply: (config, raw) => {
      config.uwsgiAllowFrom.push(parseAllowFrom(raw));
    },
  },
  {
    name: 'gateway-io',
    value: 'MODE',
    doc: "uwsgi connections on pier's native epoll transport (native), on libuv handles (libuv) or on net.Socket (net); each falls back to the next where it is missing",
    shownDefault: 'native',
    apply: (config, raw) => {
      config.gatewayIo = parseChoice(['native', 'libuv', 'net'] as const)(raw);
    },
  },
  {
    name: 'stats',
    value: 'ADDRESS',
    doc: 'serve JSON stats (workers, requests) on host:port or a unix socket',
    apply: (config, raw) => {
      config.stats = parseAddress(raw);
    },
  },
  {
    name: 'logformat',
    value: 'FORMAT',
    doc: 'access log format: combined or json',
    shownDefault: 'combined',
    apply: (config, raw) => {
      config.logformat = parseChoice(['combined', 'json'] as const)(raw);
    },
  },
  {
    name: 'disable-logging',
    value: 'BOOL',
    bare: 'true',
    doc: 'do not write the access log',
    shownDefault: 'false',
    apply: (config, raw) => {
      config.disableLogging = parseBoolean(raw);
    },
  },
  {
    name: 'pidfile',
    value: 'PATH',
    doc: "write the master's pid here, before uid/gid take effect (as uWSGI's pidfile); vacuum can remove it only where that user may",
    apply: (config, raw) => {
      config.pidfile = raw.trim();
    },
  },
  {
    name: 'master',
    aliases: ['plugin', 'plugins'],
    value: 'ANY',
    bare: 'true',
    doc: 'accepted for uWSGI ini files and ignored: pier always runs a master and needs no plugins',
    apply: () => {},
  },
];
