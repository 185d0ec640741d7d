// The arguments of a CGI run (`pier cgi [--limit-post SIZE] [--body-timeout MS] APP`), parsed
// without the CLI framework: a CGI process answers one request, and loading commander would
// cost it more than answering does. Errors say which argument and what to write instead.

import { parseInteger, parseSize, ValueError } from '../config/values.js';
import { ServerError } from '../errors.js';
import type { BodyLimits } from './read-body.js';
import { defaultCgiLimits } from './run-cgi.js';

export interface CgiArguments extends BodyLimits {
  /** The app module's path, as given. */
  app: string;
}

export const cgiUsage = 'usage: pier cgi [--limit-post SIZE] [--body-timeout MS] APP';

const options: Record<string, (args: CgiArguments, raw: string) => void> = {
  '--limit-post': (args, raw) => {
    args.limitPost = parseSize(raw);
  },
  '--body-timeout': (args, raw) => {
    args.timeoutMs = parseInteger(1)(raw);
  },
};

/**
 * `argv` after `cgi` → the app and body limits (defaults: defaultCgiLimits). Takes `--name value`
 * and `--name=value`. Throws a ServerError (code CGI_USAGE) naming the bad argument.
 */
export function parseCgiArguments(argv: readonly string[]): CgiArguments {
  const args: CgiArguments = { app: '', ...defaultCgiLimits };
  const apps: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      apps.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      apps.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const apply = options[name];
    if (!apply) throw usageError(`unknown option ${JSON.stringify(name)}`);
    const raw = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw usageError(`${name} needs a value`);
    try {
      apply(args, raw);
    } catch (err) {
      if (err instanceof ValueError) throw usageError(`${name}: ${err.message}`);
      throw err;
    }
  }
  if (apps.length !== 1)
    throw usageError(apps.length === 0 ? 'no app module given' : `one app module, got ${apps.length}`);
  args.app = apps[0] ?? '';
  return args;
}

function usageError(message: string): ServerError {
  return new ServerError('CGI_USAGE', `pier cgi: ${message} (${cgiUsage})`);
}
