// Remote commands as data. Builders return argv arrays or small trees of them; `render` is the
// one place that turns them into a POSIX sh command line, quoting every argument.

export type Argv = readonly string[];

export type Script =
  | { op: 'run'; argv: Argv }
  | { op: 'and' | 'or' | 'seq' | 'pipe'; parts: readonly Script[] }
  | { op: 'write'; script: Script; file: string; append: boolean }
  | { op: 'quiet'; script: Script }
  | { op: 'program'; text: string; args: Argv }
  | { op: 'if'; test: Script; yes: Script; no: Script };

type Part = Script | Argv;

const toScript = (part: Part): Script =>
  Array.isArray(part) ? { op: 'run', argv: part as Argv } : (part as Script);
const list =
  (op: 'and' | 'or' | 'seq' | 'pipe') =>
  (...parts: Part[]): Script =>
    parts.length === 1 ? toScript(parts[0] as Part) : { op, parts: parts.map(toScript) };

/** `a && b && c` */
export const all = list('and');
/** `a || b` */
export const either = list('or');
/** `a; b` (each runs whatever the previous did) */
export const each = list('seq');
/** `a | b` */
export const pipe = list('pipe');
/** `a > file` */
export const writeTo = (part: Part, file: string): Script => ({
  op: 'write',
  script: toScript(part),
  file,
  append: false,
});
/** `a >> file` */
export const appendTo = (part: Part, file: string): Script => ({
  op: 'write',
  script: toScript(part),
  file,
  append: true,
});
/** `a 2>/dev/null` */
export const quiet = (part: Part): Script => ({ op: 'quiet', script: toScript(part) });
/**
 * A fixed sh program run with positional parameters `args`, as `sh -c text name args...` runs
 * it but in a subshell of the script's own shell: `( set -- args; text )`. A fork instead of
 * starting another sh; on a fleet, each process a step starts is CPU on every host. The program
 * may `exit` (it leaves the subshell only) and must not use `$0`.
 */
export const program = (text: string, args: Argv = []): Script => ({ op: 'program', text, args });
/** `if test; then a; else b; fi`: unlike `test && a || b`, a failing `a` does not run `b`. */
export const branch = (test: Part, then: Part, otherwise: Part): Script => ({
  op: 'if',
  test: toScript(test),
  yes: toScript(then),
  no: toScript(otherwise),
});
/** `a || true`: a probe whose failure only means "absent". */
export const optional = (part: Part): Script => either(quiet(part), ['true']);

const safe = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quote(arg: string): string {
  if (safe.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'"'"'`)}'`;
}

export function render(part: Part): string {
  const script = toScript(part);
  switch (script.op) {
    case 'run':
      return script.argv.map(quote).join(' ');
    case 'and':
    case 'or':
    case 'seq':
    case 'pipe': {
      const joiner = { and: ' && ', or: ' || ', seq: '; ', pipe: ' | ' }[script.op];
      return script.parts
        .map((inner) => (needsBraces(script.op, inner) ? braced(inner) : render(inner)))
        .join(joiner);
    }
    case 'write':
      return `${redirectable(script.script)} ${script.append ? '>>' : '>'} ${quote(script.file)}`;
    case 'quiet':
      return `${redirectable(script.script)} 2>/dev/null`;
    case 'program':
      return `( set -- ${script.args.map(quote).join(' ')}; ${script.text}\n)`;
    case 'if':
      return `if ${render(script.test)}; then ${render(script.yes)}; else ${render(script.no)}; fi`;
  }
}

/** sh precedence: pipelines bind tighter than && and ||, which bind tighter than `;`. */
function needsBraces(parent: 'and' | 'or' | 'seq' | 'pipe', child: Script): boolean {
  if (['run', 'quiet', 'write', 'program', 'if'].includes(child.op)) return false;
  if (child.op === 'pipe') return false;
  if (parent === 'seq') return false;
  return parent === 'pipe' || child.op !== parent;
}

/** A command a redirection can follow as it is: one argv, or a program's subshell. */
function redirectable(script: Script): string {
  return script.op === 'run' || script.op === 'program' ? render(script) : braced(script);
}

function braced(script: Script): string {
  return `{ ${render(script)}; }`;
}

/**
 * The PATH every remote script runs with: the system directories first (a normal user's login
 * PATH lacks /usr/sbin, where Debian keeps useradd and visudo), then whatever
 * the login environment had (a Node installed under /opt or ~/.local stays reachable).
 */
export const remotePath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Printed on stdout and stderr by the envelope just before the script runs: what a host prints
 * before it (a chatty ~/.bashrc, a motd, a "Welcome" from /etc/profile) is cut off at this line.
 */
export const outputMarker = '--pier-output-7c1e--';

/**
 * The command line sent over SSH for a script: the login shell only starts /bin/sh, whatever
 * shell it is (bash, dash, fish, tcsh and zsh all parse this line the same way: a word, a
 * single-quoted word whose inside holds no quote or backslash, and base64 text). /bin/sh then
 * decodes and evaluates the script with a fixed PATH and the C locale, so commands are found for
 * a non-root user and every message pier might read is in one language. Exit status, stdin and
 * stdout are the script's own.
 *
 * Shape: `exec /bin/sh -c 'eval "$(printf %s <base64> | base64 -d)"'`.
 */
export function envelope(part: Part): string {
  const body = [prelude, render(part)].join('\n');
  const encoded = Buffer.from(body, 'utf8').toString('base64');
  return `exec /bin/sh -c 'eval "$(printf %s ${encoded} | base64 -d)"'`;
}

/**
 * What every script runs after: the fixed PATH and locale, then the marker line on stdout and
 * stderr. The envelope puts it before its script; a long-lived shell (ssh/remote-shell.ts) is
 * sent it first on its input.
 */
export const prelude = [
  `PATH=${remotePath}:$PATH; export PATH`,
  'LC_ALL=C; LANG=C; export LC_ALL LANG; unset LANGUAGE',
  `printf '%s\\n' ${outputMarker}; printf '%s\\n' ${outputMarker} >&2`,
].join('\n');

/**
 * What the script itself printed: the text after the envelope's marker line. Without a marker
 * the script never ran (the login shell could not start /bin/sh): nothing is the script's.
 */
export function scriptOutput(raw: string): string {
  const at = raw.indexOf(`${outputMarker}\n`);
  return at === -1 ? '' : raw.slice(at + outputMarker.length + 1);
}
