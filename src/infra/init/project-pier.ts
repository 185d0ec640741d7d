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

/**
 * Reads `<root>/package.json`; an unreadable one counts as none. `appGiven`: --app named a module
 * (not pier's Hello), so a project without package.json is an app's that cannot carry pier yet.
 */
export function projectPier(root: string, appGiven = false): ProjectPier {
  let pkg: { name?: unknown; dependencies?: Record<string, unknown> };
  try {
    pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  } catch {
    const note = appGiven
      ? "note: there is no package.json here, so the systemd unit and the CGI script run pier from dist/src/cli/main.js in the release, as in pier's own tree; an app's release carries pier as a dependency: `npm init -y`, install pier into it (pier init then says how) and run pier init again"
      : undefined;
    return { pier: '', note };
  }
  if (pkg.name === 'pier') return { pier: '', note: undefined };
  const note =
    pkg.dependencies?.pier === undefined
      ? 'note: the systemd unit and the CGI script run pier from node_modules/pier in the release, and package.json does not list pier in its dependencies yet: in a pier checkout, `npm run build && npm pack`, then here `npm install <path to>/pier-<version>.tgz` (commit the .tgz, or put it where `npm ci` finds it)'
      : undefined;
  return { pier: 'node_modules/pier', note };
}
