// What `pier init` takes, checked once where it enters. Every value ends up in six formats
// (nginx, Apache, ini, systemd, sh, a path under /opt), so each is held to an alphabet that
// needs no quoting in any of them; anything else is refused with the flag, the offending
// character and what is allowed, before a single file is written.
import { InfraError } from '../errors.js';
import { inPier, prodSocket } from './host-layout.js';

export interface InitOptions {
  /** The app's name: unit, site, /opt/<name>. */
  name: string;
  /** App module, relative to the release root (WorkingDirectory). */
  app: string;
  /** The system user the service runs as. */
  user: string;
  /** nginx server_name / Apache ServerName. */
  domain: string;
  /** Where the files go, relative to the project root (the release root once deployed). */
  dir: string;
  /**
   * The uwsgi socket of prod.ini, `IPv4:PORT`: where pier listens, systemd's .socket unit
   * listens, and nginx's uwsgi_pass connects. Each app on a host needs its own.
   */
  socket: string;
  /**
   * Where pier's package is, relative to the project root: '' in pier's own tree (this
   * repository, or a project with no package.json of its own), `node_modules/pier` in an app's
   * (pier as one of its dependencies). Not a flag: read from the project's package.json.
   */
  pier: string;
}

export type RawInitOptions = Partial<Record<Exclude<keyof InitOptions, 'pier'>, string>>;

export const initDefaults = {
  name: 'hello',
  app: 'dist/src/hello/hello.js',
  dir: 'deploy',
  socket: prodSocket,
} as const;

interface Rule {
  flag: string;
  /** One character of the alphabet. */
  chars: RegExp;
  /** The whole value's form. */
  pattern: RegExp;
  allowed: string;
  extra?: (value: string) => string | undefined;
}

const pathRule = (flag: string, what: string): Rule => ({
  flag,
  chars: /[A-Za-z0-9._@+/-]/,
  pattern: /^[A-Za-z0-9_@+][A-Za-z0-9._@+/-]*$/,
  allowed: `a relative path (${what}) of letters, digits and . _ - @ + /`,
  extra: (value) =>
    value.startsWith('/')
      ? 'is absolute; give it relative to the project root'
      : value.split('/').some((part) => part === '..' || part === '')
        ? 'has an empty or ".." segment'
        : undefined,
});

/** `A.B.C.D:PORT`, each part captured; ranges are checked apart. */
const ipv4Port = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/;

const rules: Record<Exclude<keyof InitOptions, 'pier'>, Rule> = {
  name: {
    flag: '--name',
    chars: /[a-z0-9-]/,
    pattern: /^[a-z][a-z0-9-]{0,31}$/,
    allowed:
      "1-32 lowercase letters, digits and '-', starting with a letter (it names the unit, the site and /opt/<name>)",
  },
  user: {
    flag: '--user',
    chars: /[a-z0-9_-]/,
    pattern: /^[a-z_][a-z0-9_-]{0,31}$/,
    allowed:
      "a system user name: 1-32 lowercase letters, digits, '_' and '-', not starting with a digit or '-'",
    extra: (value) =>
      value === 'root' ? 'is root; the service runs as its own unprivileged user' : undefined,
  },
  domain: {
    flag: '--domain',
    chars: /[a-z0-9.-]/,
    pattern: /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/,
    allowed: "a host name: dot-separated labels of lowercase letters, digits and '-' (not at a label's ends)",
  },
  app: {
    ...pathRule('--app', 'to the release root'),
    extra: (value) =>
      pathRule('--app', '').extra?.(value) ??
      (/\.(m?js|cjs|m?ts|cts|tsx)$/.test(value) ? undefined : 'is not a .js/.mjs/.cjs/.ts/.mts module'),
  },
  dir: pathRule('--dir', 'inside the project'),
  socket: {
    flag: '--socket',
    chars: /[0-9.:]/,
    pattern: ipv4Port,
    allowed: 'IPv4:PORT, the address nginx reaches the app on, e.g. 127.0.0.1:9001 (port 1-65535)',
    extra: (value) => {
      const match = ipv4Port.exec(value);
      if (!match)
        return value.startsWith(':') ? 'has no address: name the interface, e.g. 127.0.0.1' : undefined;
      if (match.slice(1, 5).some((octet) => Number(octet) > 255)) return 'is not an IPv4 address';
      const port = Number(match[5]);
      return port < 1 || port > 65535 ? `has port ${port}, out of range 1-65535` : undefined;
    },
  },
};

/**
 * The options, checked; `pier` as projectPier gives it. Without --app, the app is pier's Hello
 * (inside node_modules/pier in an app's project). Throws InfraError INIT_INPUT (exit 2) naming
 * the flag, the offending character and the alphabet.
 */
export function validateInitOptions(raw: RawInitOptions, pier = ''): InitOptions {
  const name = check('name', raw.name ?? initDefaults.name);
  return {
    pier,
    name,
    app: check('app', raw.app ?? inPier(pier, initDefaults.app)),
    user: check('user', raw.user ?? name),
    domain: check('domain', raw.domain ?? `${name}.localhost`),
    dir: check('dir', (raw.dir ?? initDefaults.dir).replace(/\/+$/, '')),
    socket: check('socket', raw.socket ?? initDefaults.socket),
  };
}

function check(key: Exclude<keyof InitOptions, 'pier'>, value: string): string {
  const rule = rules[key];
  const bad = [...value].find((c) => !rule.chars.test(c));
  const problem =
    value === ''
      ? 'is empty'
      : bad !== undefined
        ? `contains ${describeChar(bad)}`
        : (rule.extra?.(value) ?? (rule.pattern.test(value) ? undefined : 'is not in the allowed form'));
  if (problem === undefined) return value;
  throw new InfraError('INIT_INPUT', `${rule.flag} ${JSON.stringify(value)} ${problem}`, {
    hint: `allowed: ${rule.allowed}`,
  });
}

const charNames: Record<string, string> = {
  ' ': 'a space',
  '\t': 'a tab',
  '\n': 'a newline',
  '\r': 'a carriage return',
  '"': 'a double quote',
  "'": 'a single quote',
  '`': 'a backquote',
  '\\': 'a backslash',
};

function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (charNames[c]) return charNames[c];
  if (code < 0x20 || code === 0x7f) return `a control character (U+${code.toString(16).padStart(4, '0')})`;
  return `"${c}"`;
}
