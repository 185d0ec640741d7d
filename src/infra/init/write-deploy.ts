// Writes the rendered files under --dir. A file that exists with other content is a conflict:
// all conflicts are reported together and nothing is written unless --force. Each file is
// written beside its target and renamed over it, so no reader ever sees half a file.
import { chmodSync, lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InfraError } from '../errors.js';
import type { DeployFile } from './deploy-files.js';

export type WriteState = 'created' | 'replaced' | 'unchanged';

export interface WrittenFile {
  path: string;
  state: WriteState;
}

export function writeDeployFiles(dir: string, files: DeployFile[], force: boolean): WrittenFile[] {
  const plan = files.map((file) => ({
    file,
    target: path.join(dir, file.path),
    state: stateOf(path.join(dir, file.path), file),
  }));
  const conflicts = plan.filter((p) => p.state === 'replaced');
  if (conflicts.length > 0 && !force) {
    throw new InfraError(
      'INIT_EXISTS',
      `${conflicts.length} file(s) exist with other content: ${conflicts.map((c) => c.target).join(', ')}; nothing was written`,
      { hint: 'pass --force to overwrite them, or --dir to write elsewhere' },
    );
  }
  for (const { file, target, state } of plan) {
    if (state === 'unchanged') continue;
    mkdirSync(path.dirname(target), { recursive: true });
    const temporary = `${target}.pier-init-${process.pid}`;
    writeFileSync(temporary, file.content, { mode: file.mode });
    chmodSync(temporary, file.mode);
    renameSync(temporary, target);
  }
  return plan.map(({ target, state }) => ({ path: target, state }));
}

function stateOf(target: string, file: DeployFile): WriteState {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(target);
  } catch {
    return 'created';
  }
  if (stat.isDirectory()) {
    throw new InfraError(
      'INIT_EXISTS',
      `${target} is a directory where pier init writes a file; nothing was written`,
    );
  }
  const same =
    stat.isFile() && (stat.mode & 0o777) === file.mode && readFileSync(target, 'utf8') === file.content;
  return same ? 'unchanged' : 'replaced';
}
