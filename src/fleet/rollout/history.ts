// A host's deploy history from its revisions.log (see commands/audit.ts for the line format),
// and the rollback target it implies (previousGood).

export interface Revision {
  at: string;
  deploy: string;
  action: string;
  version: string;
  previous: string | undefined;
  result: string;
  by: string;
}

export function parseRevisions(lines: readonly string[]): Revision[] {
  const out: Revision[] = [];
  for (const line of lines) {
    const [at = '', ...fields] = line.trim().split(' ');
    const values = new Map(
      fields.map((field) => [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)]),
    );
    const version = values.get('version');
    if (!version) continue;
    const previous = values.get('previous');
    out.push({
      at,
      deploy: values.get('deploy') ?? '-',
      action: values.get('action') ?? '-',
      version,
      previous: previous === '-' ? undefined : previous,
      result: values.get('result') ?? '-',
      by: values.get('by') ?? '-',
    });
  }
  return out;
}

/**
 * The release `pier rollback` returns to: the one below `current` in the host's stack of
 * releases, still on disk. The stack is built from revisions.log, oldest line first, as
 * Capistrano's release list works: a healthy deploy puts its version on top; a healthy rollback
 * puts its version on top and takes off the one it rolled back from (`previous`), which comes
 * back only when deployed again, or by `rollback --to` it (going forward: that takes nothing
 * off). So a second rollback goes one release further back instead of returning to the release
 * the first one left, and after a deploy that follows a rollback the
 * target is what ran before that deploy. Lines that did not end healthy change nothing.
 * Undefined when no such release is left.
 */
export function previousGood(
  revisions: readonly Revision[],
  current: string | undefined,
  onDisk: readonly string[],
): string | undefined {
  const stack: string[] = [];
  const takeOff = (version: string | undefined): void => {
    const at = version === undefined ? -1 : stack.indexOf(version);
    if (at >= 0) stack.splice(at, 1);
  };
  for (const revision of revisions) {
    if (revision.result !== 'healthy') continue;
    // Only a rollback that went down the stack takes the release it left off; one to a release
    // not below it (`rollback --to` a release a rollback had taken off) went forward instead.
    if (revision.action === 'rollback' && revision.previous !== undefined) {
      const left = stack.indexOf(revision.previous);
      const target = stack.indexOf(revision.version);
      if (target >= 0 && left > target) takeOff(revision.previous);
    }
    takeOff(revision.version);
    stack.push(revision.version);
  }
  for (let at = stack.length - 1; at >= 0; at--) {
    const version = stack[at] as string;
    if (version !== current && onDisk.includes(version)) return version;
  }
  return undefined;
}
