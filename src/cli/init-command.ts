// `pier init`: writes an app's infrastructure code (nginx, Apache, pier ini, systemd, install
// script) under --dir, relative to the current directory (the project root).

import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { deployFiles } from '../infra/init/deploy-files.js';
import { initDefaults, type RawInitOptions, validateInitOptions } from '../infra/init/init-options.js';
import { projectPier } from '../infra/init/project-pier.js';
import { writeDeployFiles } from '../infra/init/write-deploy.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description(
      'write the infrastructure code for an app: nginx, Apache, pier ini, systemd units, install script',
    )
    .option('--name <name>', 'app name: unit, site and /opt/<name>', initDefaults.name)
    .option(
      '--app <path>',
      `app module, relative to the project root (default: pier's Hello, ${initDefaults.app})`,
    )
    .option('--user <name>', 'system user the service runs as (default: the name)')
    .option('--domain <name>', 'server name for nginx and Apache (default: <name>.localhost)')
    .option('--dir <path>', 'where to write, relative to the project root', initDefaults.dir)
    .option(
      '--socket <address>',
      "prod.ini's uwsgi socket, which nginx's uwsgi_pass and the .socket unit name too; one per app on a host",
      initDefaults.socket,
    )
    .option('--force', 'overwrite files that exist with other content')
    .action((raw: RawInitOptions & { force?: boolean }) => {
      const project = projectPier(process.cwd(), raw.app !== undefined);
      const options = validateInitOptions(raw, project.pier);
      const written = writeDeployFiles(options.dir, deployFiles(options), raw.force === true);
      for (const file of written) process.stdout.write(`${file.state.padEnd(9)} ${file.path}\n`);
      if (project.note) process.stderr.write(`${project.note}\n`);
      // Written anyway (the module may come later), but a typo should not go unnoticed.
      if (raw.app !== undefined && !existsSync(path.resolve(options.app)))
        process.stderr.write(
          `note: ${options.app} does not exist in ${process.cwd()}: the generated files name it as the app module (--app is relative to the project root)\n`,
        );
    });
}
