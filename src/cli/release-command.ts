// `pier release VERSION [--push]` and `pier releases`: git tags as releases, each with one
// reproducible artifact under .pier/.
import type { Command } from 'commander';
import { createRelease, listReleases } from '../fleet/release/release.js';
import { ReleaseStore } from '../fleet/release/store.js';
import { checkVersion } from '../fleet/release/version.js';
import { table } from '../fleet/report/summary.js';
import { type FleetFlags, findRepo, runtimeFor } from './fleet-options.js';
import { withInterrupts } from './interrupts.js';

interface ReleaseFlags extends FleetFlags {
  push?: boolean;
  remote: string;
  runtime?: string;
}

export function registerRelease(program: Command): void {
  program
    .command('release')
    .description('tag VERSION (annotated) and build its artifact from the tag')
    .argument('<version>', 'the new version, e.g. v2.0')
    .option('--repo <dir>', 'the app repository (default: the one around the current directory)')
    .option('--push', 'push the tag to the remote')
    .option('--remote <name>', 'remote to push to', 'origin')
    .option('-c, --config <file>', 'fleet inventory whose `runtime` applies (default: deploy/fleet.yml)')
    .option('--runtime <mode>', 'bundled (the artifact carries this Node) or host (default: from fleet.yml)')
    .action(async (version: string, options: ReleaseFlags) => {
      checkVersion(version);
      const repo = await findRepo(options, true);
      const runtime = await runtimeFor(options, repo);
      const store = new ReleaseStore(repo);
      // Ctrl-C (or SIGTERM, SIGHUP) stops the build and removes the tag it made, so the same
      // command works again; a second signal stops at once.
      const manifest = await withInterrupts(
        (signal) =>
          createRelease({
            repo,
            version,
            store,
            push: options.push === true,
            remote: options.remote,
            runtime,
            log: (line) => process.stderr.write(`${line}\n`),
            signal,
          }),
        { out: process.stderr, finishing: `stopping the build, then removing the tag ${version} it made` },
      );
      process.stdout.write(
        `released ${manifest.version} (${manifest.commit.slice(0, 12)})\n` +
          `artifact ${store.artifactPath(manifest.sha256)}\n` +
          `sha256 ${manifest.sha256}\n${options.push ? `pushed tag ${version} to ${options.remote}\n` : ''}`,
      );
    });

  program
    .command('releases')
    .description('list releases (tags) and their artifacts')
    .option('--repo <dir>', 'the app repository')
    .option('--json', 'machine-readable output')
    .action(async (options: FleetFlags & { json?: boolean }) => {
      const repo = await findRepo(options, true);
      const releases = await listReleases(repo, new ReleaseStore(repo));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(releases, null, 2)}\n`);
        return;
      }
      const rows = releases.map((r) => [
        r.version,
        r.date,
        r.commit,
        r.sha256 ? r.sha256.slice(0, 16) : '(not built)',
        r.size === undefined ? '-' : String(r.size),
      ]);
      process.stdout.write(`${table([['version', 'date', 'commit', 'sha256', 'bytes'], ...rows])}\n`);
    });
}
