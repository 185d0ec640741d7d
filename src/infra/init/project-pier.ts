// Where the project `pier init` runs in finds pier once deployed: in pier's own tree (this
// repository, or a directory with no package.json, which serves pier's Hello), or, in an app's
// project, as its dependency under node_modules/pier, which the release artifact carries (npm ci
// and npm prune --omit=dev keep production dependencies).
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface ProjectPier {
  /** InitOptions.pier: '' or 'node_modules/pier'. */
  pier: string;
  /** Said to the user when the project does not depend on pier yet. */
  note: string | undefined;
}

/** Reads `<root>/package.json`; an unreadable one counts as none. */
export function projectPier(root: string): ProjectPier {
  let pkg: { name?: unknown; dependencies?: Record<string, unknown> };
  try {
    pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  } catch {
    return { pier: '', note: undefined };
  }
  if (pkg.name === 'pier') return { pier: '', note: undefined };
  const note =
    pkg.dependencies?.pier === undefined
      ? 'note: the systemd unit and the CGI script run pier from node_modules/pier in the release, and package.json does not list pier in its dependencies yet: in a pier checkout, `npm run build && npm pack`, then here `npm install <path to>/pier-<version>.tgz` (commit the .tgz, or put it where `npm ci` finds it)'
      : undefined;
  return { pier: 'node_modules/pier', note };
}
