// Renders docs/config.md from the option registry, so the reference cannot drift from the code.
import { envName, options } from './options.js';

export function renderConfigDocs(): string {
  const rows = options.map((option) => {
    const names = [option.name, ...(option.aliases ?? [])].map((n) => `\`${n}\``).join(', ');
    const repeat = option.repeatable ? ' (repeatable)' : '';
    const fallback = option.shownDefault ? `\`${option.shownDefault}\`` : '';
    const value = option.bare === undefined ? option.value : `[${option.value}]`;
    const bare = option.bare === undefined ? '' : ` (a bare \`--${option.name}\` is \`${option.bare}\`)`;
    return `| ${names} | \`--${option.name} ${value}\` | \`${envName(option)}\` | ${fallback} | ${option.doc}${bare}${repeat} |`;
  });
  return [
    '# `pier serve` configuration',
    '',
    '<!-- Generated from src/server/config/options.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Options come from, in rising precedence: defaults, the ini file, `PIER_*` environment variables,',
    'command-line flags. The ini file is read from its `[pier]` section, or `[uwsgi]` when there is no',
    '`[pier]` (so uWSGI files work once `wsgi-file` points at a JS/TS module); `pier serve FILE.ini:NAME`',
    "reads section `[NAME]`. Values may use `$(NAME)` for environment variables and uWSGI's magic",
    'variables for the file and the host: `%n` its name without extension, `%s` its name, `%e` the',
    'extension, `%p` its absolute path, `%o` the path as given, `%d` its directory (with a trailing `/`),',
    "`%c` that directory's name, `%0`..`%9` its components, `%x` `file:section`, `%v` the working",
    'directory, `%h` the hostname, `%k` CPU cores, `%u`/`%U` uid/user name, `%g`/`%G` gid/group name,',
    '`%t`/`%T` start time in s/µs, `%V` the pier version, `%[` ESC, `%%` a percent sign (upper-case',
    '`%O %P %S %D %E %N %C %X` are the same as lower-case). Any other `%` letter is an error; a `%`',
    'before anything else stays as written. Repeatable options',
    'add one value per line; in an environment variable, separate values with commas. A source that',
    'sets a repeatable option replaces what earlier sources set. An unknown ini key or flag is an error,',
    "and so is a `PIER_*` variable a letter or two away from an option's (`PIER_PROCESES`); other",
    '`PIER_*` variables are left alone.',
    '',
    'Addresses: `host:port`, `:port` (all interfaces), `[::1]:port`, a unix socket path (`/run/app.sock`,',
    '`./app.sock`, or `@name` for the abstract namespace), or `fd:NAME` for a socket passed by systemd.',
    'With no socket option at all, pier serves the sockets systemd passes (socket activation), each in',
    'the protocol its `FileDescriptorName=` names (`http`, `uwsgi`, `fastcgi`; HTTP when unnamed).',
    'The app may be a module file or a directory: its package.json `exports` or `main`, else',
    '`index.ts`, `index.mts`, `index.js` or `index.mjs`.',
    'Sizes: bytes or `k`/`m`/`g`. Durations: seconds, fractions allowed.',
    '',
    '| ini key | flag | environment | default | meaning |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    'Errors name where and what: `prod.ini:4: processes: expected an integer from 1 to 1024, got "two"`,',
    'with a "did you mean" for misspelt keys; `pier serve` exits with status 2 before binding anything.',
    '',
  ].join('\n');
}
