// A host's deploy history from its revisions.log (see commands/audit.ts for the line format),
// and the rollback target it implies: the newest release that was healthy before the current one.

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

/** The newest version other than `current` that was healthy and is still on disk. */
export function previousGood(
  revisions: readonly Revision[],
  current: string | undefined,
  onDisk: readonly string[],
): string | undefined {
  for (let at = revisions.length - 1; at >= 0; at--) {
    const revision = revisions[at] as Revision;
    if (revision.result === 'healthy' && revision.version !== current && onDisk.includes(revision.version)) {
      return revision.version;
    }
  }
  return undefined;
}
