// `pier serve [FILE.ini[:section]] [--option value ...]`: the application server. Every option
// comes from the registry in src/server/config/options.ts.
import { type Command, Option } from 'commander';
import { connectServiceManager } from '../infra/service-manager.js';
import { activatedSockets } from '../infra/socket-activation.js';
import { ConfigError, loadServeConfig } from '../server/config/load-config.js';
import { envName, options } from '../server/config/options.js';
import { createLogger } from '../server/log/logger.js';
import { Master } from '../server/master/master.js';

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('run the application server (master + workers) for an app module')
    .argument('[config]', 'ini file with a [pier] (or [uwsgi]) section; FILE.ini:NAME picks section [NAME]')
    .addHelpText(
      'after',
      '\nEvery option can also be set in the ini file (same name) or as PIER_<NAME> in the environment.\nReference: docs/config.md',
    );
  const collected: Array<[string, string]> = [];
  for (const option of options) {
    // uWSGI's flags (`--master`, `--vacuum`, `--chmod-socket`) may come without a value.
    const value = option.value.toLowerCase();
    const flag = new Option(
      `--${option.name} ${option.bare === undefined ? `<${value}>` : `[${value}]`}`,
      option.doc,
    ).env(envName(option));
    if (option.bare !== undefined) flag.preset(option.bare);
    if (option.shownDefault) flag.default(undefined, option.shownDefault);
    // Values are collected raw, in order; the config loader parses and reports errors with context.
    flag.argParser((raw: string) => {
      collected.push([option.name, raw]);
      return raw;
    });
    command.addOption(flag);
  }
  command.action(async (file: string | undefined) => {
    // commander also reads PIER_* into options; the loader reads the environment itself, so only
    // the values that really came from flags are passed on.
    const flags = collected.filter(([name]) => command.getOptionValueSource(camel(name)) === 'cli');
    // The passed sockets are what a config without socket options serves.
    const activated = activatedSockets(process.env, process.pid).sockets;
    const config = loadServeConfig({ file, flags, env: process.env, cwd: process.cwd(), activated });
    const log = createLogger('master', config.logformat === 'json', (line) => process.stderr.write(line));
    const systemd = connectServiceManager({
      env: process.env,
      pid: process.pid,
      log: (line) => log.warn('systemd', { message: line }),
    });
    const master = new Master(config, {
      log,
      env: systemd.workerEnv,
      hooks: systemd.hooks,
      activated: systemd.activated,
    });
    try {
      process.exitCode = await master.run();
    } finally {
      systemd.close();
    }
  });
}

const camel = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export { ConfigError };
