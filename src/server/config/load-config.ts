// Builds a ServeConfig from its sources, in rising precedence: defaults, the ini file's section,
// PIER_* environment variables, command-line flags. Every problem is a ConfigError that says
// where (file:line, PIER_X or --flag), which option, and what is wrong.
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closest } from '../../common/closest-name.js';
import { CodedError } from '../../common/coded-error.js';
import { AppEntryError, appEntry } from '../app/app-entry.js';
import { IniError, parseIni } from './ini-file.js';
import { type HostFacts, magicTable } from './magic-variables.js';
import { defaultConfig, envName, type OptionSpec, options } from './options.js';
import type { ServeConfig, SocketProtocol, SocketSpec } from './serve-config.js';

export class ConfigError extends CodedError {
  constructor(message: string, hint?: string) {
    super('CONFIG', message, { hint }, 2);
  }
}

export interface ConfigSources {
  /** `FILE.ini` or `FILE.ini:section`. */
  file?: string | undefined;
  /** `--name value` pairs from the command line, in order. */
  flags: Array<[string, string]>;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Listening sockets systemd passed (socket activation): served when no socket is configured. */
  activated?: ReadonlyArray<{ fd: number; name: string }>;
}

const byName = new Map<string, OptionSpec>();
for (const option of options) {
  byName.set(option.name, option);
  for (const alias of option.aliases ?? []) byName.set(alias, option);
}

// uWSGI options pier has no counterpart of under the same name, and what to use instead
// (uWSGI's option reference: https://uwsgi-docs.readthedocs.io/en/latest/Options.html).
const uwsgiOnly = new Map<string, string>([
  [
    'http',
    "uWSGI's HTTP router, a process in front of the workers; pier has none: http-socket serves HTTP from the workers themselves",
  ],
  [
    'https',
    'pier serves no TLS: put nginx (or another proxy) in front, with socket or http-socket behind it',
  ],
]);

interface Setting {
  name: string;
  raw: string;
  where: string;
}

/** Applies one source's settings; repeatable options given here replace earlier sources' values. */
function applySource(config: ServeConfig, settings: Setting[], origins: Map<string, string>): void {
  const reset = new Set<OptionSpec>();
  for (const { name, raw, where } of settings) {
    const option = byName.get(name);
    if (!option) {
      const known = uwsgiOnly.get(name);
      const guess = known ? undefined : closest(name, byName.keys());
      throw new ConfigError(
        `${where}: unknown option "${name}"${known ? `: ${known}` : guess ? `; did you mean "${guess}"?` : ''}`,
        'pier serve --help lists every option',
      );
    }
    if (option.repeatable && !reset.has(option)) {
      option.repeatable.reset(config);
      reset.add(option);
    }
    try {
      // A bare ini key reads as `true`: for an option with its own bare meaning (chmod-socket:
      // 666), that meaning, as a bare flag on the command line gets it.
      option.apply(config, raw === 'true' && option.bare !== undefined ? option.bare : raw);
    } catch (err) {
      throw new ConfigError(`${where}: ${name}: ${(err as Error).message}`);
    }
    origins.set(option.name, where);
  }
}

function splitFileSection(spec: string, cwd: string): { file: string; section: string | undefined } {
  const colon = spec.lastIndexOf(':');
  if (colon > 0 && !existsSync(path.resolve(cwd, spec)) && !spec.slice(colon + 1).includes('/')) {
    return { file: spec.slice(0, colon), section: spec.slice(colon + 1) };
  }
  return { file: spec, section: undefined };
}

function iniSettings(spec: string, sources: ConfigSources): Setting[] {
  const { file, section } = splitFileSection(spec, sources.cwd);
  const full = path.resolve(sources.cwd, file);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `${file}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      'check the path; it is relative to the current directory',
    );
  }
  let sections: ReturnType<typeof parseIni>;
  try {
    const host = hostFacts(sources.cwd);
    sections = parseIni(text, file, sources.env, (name) => magicTable(file, name, host));
  } catch (err) {
    if (err instanceof IniError) throw new ConfigError(err.message);
    throw err;
  }
  const name = section ?? (sections.has('pier') ? 'pier' : 'uwsgi');
  const entries = sections.get(name);
  if (!entries) {
    const found = [...sections.keys()].map((s) => `[${s}]`).join(', ') || 'none';
    throw new ConfigError(`${file}: no [${name}] section (sections found: ${found})`);
  }
  return entries.map((entry) => ({ name: entry.key, raw: entry.value, where: `${file}:${entry.line}` }));
}

/** What uWSGI's magic variables say about this host (%h, %k, %u, %U, %g, %G, %v, %t, %V). */
function hostFacts(cwd: string): HostFacts {
  const uid = (): number => process.getuid?.() ?? -1;
  const gid = (): number => process.getgid?.() ?? -1;
  return {
    hostname: () => os.hostname(),
    cpus: () => os.availableParallelism?.() ?? os.cpus().length,
    uid,
    gid,
    // As uWSGI: the name when the account database has one, else the number.
    user: () => {
      try {
        return os.userInfo().username;
      } catch {
        return String(uid());
      }
    },
    group: () => groupName(gid()) ?? String(gid()),
    cwd,
    startedMs: Date.now(),
    version: () =>
      (
        JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as {
          version: string;
        }
      ).version,
  };
}

/** The name of group `gid` from /etc/group (`name:x:gid:members`), or undefined. */
function groupName(gid: number): string | undefined {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id === String(gid)) return name;
    }
  } catch {
    // no /etc/group: the number stands in
  }
  return undefined;
}

function envSettings(env: ConfigSources['env']): Setting[] {
  const settings: Setting[] = [];
  for (const option of options) {
    const raw = env[envName(option)];
    if (raw === undefined) continue;
    // Repeatable options take several values from one variable, separated by newlines or commas.
    const values = option.repeatable ? raw.split(/[\n,]/).filter((v) => v.trim()) : [raw];
    for (const value of values) settings.push({ name: option.name, raw: value, where: envName(option) });
  }
  checkEnvSpelling(env);
  return settings;
}

/** What pier gives its deploy hooks (fleet/local-hooks.ts): never an option of pier serve. */
const hookVariables = new Set([
  'PIER_DEPLOY_ID',
  'PIER_VERSION',
  'PIER_ACTION',
  'PIER_OWNER',
  'PIER_HOST_COUNT',
  'PIER_OUTCOME',
  'PIER_REPORT',
]);
const optionVariables = new Set(options.map(envName));

/**
 * A `PIER_*` variable a letter or two away from an option's (`PIER_PROCESES`) is refused as an
 * unknown ini key or flag is, rather than silently leaving the option at its default. One not
 * close to any option's name may be anyone's, and is left alone.
 */
function checkEnvSpelling(env: ConfigSources['env']): void {
  for (const key of Object.keys(env)) {
    if (!key.startsWith('PIER_') || optionVariables.has(key) || hookVariables.has(key)) continue;
    const guess = closest(key.slice('PIER_'.length).toLowerCase().replaceAll('_', '-'), byName.keys());
    const option = guess === undefined ? undefined : byName.get(guess);
    if (option !== undefined) {
      throw new ConfigError(
        `${key}: not an option of pier serve; did you mean ${envName(option)}?`,
        'pier serve --help lists every option and its variable',
      );
    }
  }
}

function checkComplete(config: ServeConfig, origins: Map<string, string>, cwd: string): void {
  if (config.sockets.length === 0) {
    throw new ConfigError(
      'no socket to serve on',
      'set http-socket, socket (uwsgi) or fastcgi-socket, e.g. --http-socket :9090, or start pier through a systemd .socket unit',
    );
  }
  if (!config.app)
    throw new ConfigError('no app module', 'set app = PATH in the [pier] section or pass --app PATH');
  const base = path.resolve(cwd, config.chdir ?? '.');
  if (config.chdir && !(existsSync(base) && statSync(base).isDirectory())) {
    throw new ConfigError(`${origins.get('chdir')}: chdir: ${base} is not a directory`);
  }
  const app = path.resolve(base, config.app);
  if (!existsSync(app)) {
    throw new ConfigError(
      `${origins.get('app')}: app: ${app} does not exist`,
      'the app path is relative to chdir, or to the current directory',
    );
  }
  try {
    appEntry(app);
  } catch (err) {
    if (!(err instanceof AppEntryError)) throw err;
    throw new ConfigError(
      `${origins.get('app')}: app: ${err.message}`,
      'point app at the module file, or give the directory a package.json "main" or an index.ts',
    );
  }
  const seen = new Set<string>();
  for (const socket of config.sockets) {
    // Port 0 asks the kernel for any free port: several such sockets do not collide.
    if (socket.address.kind === 'tcp' && socket.address.port === 0) continue;
    const key = JSON.stringify(socket.address);
    if (seen.has(key))
      throw new ConfigError(`the same address is configured twice: ${JSON.stringify(socket.address)}`);
    seen.add(key);
  }
}

const protocolNames = new Set<string>(['http', 'uwsgi', 'fastcgi']);

/** With no socket configured, each passed socket is served in the protocol its name
 * (FileDescriptorName=) says; an unnamed one speaks HTTP, as gunicorn serves them. */
function activatedSockets(passed: NonNullable<ConfigSources['activated']>): SocketSpec[] {
  return passed.map(({ fd, name }) => {
    if (name === 'unknown') return { protocol: 'http', address: { kind: 'fd', name: String(fd) } };
    if (!protocolNames.has(name)) {
      throw new ConfigError(
        `systemd passed fd ${fd} named "${name}" and no socket option takes it; with no socket in the config, a passed socket's name is its protocol: http, uwsgi or fastcgi (an unnamed one serves HTTP)`,
        `set FileDescriptorName=http (or uwsgi, fastcgi) in the .socket unit, or configure it: http-socket = fd:${name}`,
      );
    }
    return { protocol: name as SocketProtocol, address: { kind: 'fd', name: String(fd) } };
  });
}

export function loadServeConfig(sources: ConfigSources): ServeConfig {
  const config = defaultConfig();
  const origins = new Map<string, string>();
  if (sources.file) applySource(config, iniSettings(sources.file, sources), origins);
  applySource(config, envSettings(sources.env), origins);
  applySource(
    config,
    sources.flags.map(([name, raw]) => ({ name, raw, where: `--${name}` })),
    origins,
  );
  if (config.sockets.length === 0 && sources.activated) config.sockets = activatedSockets(sources.activated);
  checkComplete(config, origins, sources.cwd);
  return config;
}
