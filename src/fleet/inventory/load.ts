// Reads deploy/fleet.yml: YAML → schema → resolved fleet. Every problem is reported at once, as
// `FILE:LINE: path: message`, with "did you mean" for misspelt keys.

import { readFile } from 'node:fs/promises';
import { isMap, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { closest } from '../../common/closest-name.js';
import { FleetError } from '../errors.js';
import { isMissingSecret, type SecretSources } from '../secrets.js';
import { type ConfigIssue, type Fleet, formatPath, InventoryIssues, resolveFleet } from './inventory.js';
import { fleetSchema } from './schema.js';

const knownKeys = [
  ...['app', 'deploy_to', 'keep_releases', 'lock_ttl', 'ssh', 'service', 'health', 'rollout', 'datacenters'],
  ...['user', 'port', 'identity', 'agent', 'known_hosts', 'strict_host_keys', 'connect_timeout'],
  ...[
    'command_timeout',
    'handshake_concurrency',
    'proxy_jump',
    'manager',
    'name',
    'action',
    'command',
    'env',
  ],
  ...['stop_timeout', 'url', 'status', 'body', 'timeout', 'interval', 'bake', 'canary', 'window'],
  ...['failure_budget', 'dc_order', 'dc_parallel', 'stage_window', 'distribution', 'vars', 'hosts'],
  ...['address', 'internal_address', 'sudo', 'runtime', 'setup', 'units', 'nginx_site'],
  ...['disable_default_site', 'sudoers', 'max_open', 'shared', 'dirs', 'files', 'env_file', 'file'],
  ...['hooks', 'after_stage', 'once', 'before_activate', 'after_activate', 'pre_deploy', 'post_deploy'],
];

/**
 * Parses and validates fleet.yml text; `fileName` only labels the errors. No I/O of its own;
 * `sources` resolves service.env (see secrets.ts), and an unset `${NAME}` is reported here.
 */
export function parseFleet(text: string, fileName: string, sources?: SecretSources): Fleet {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const where = (offset: number | undefined): string =>
    offset === undefined ? fileName : `${fileName}:${lines.linePos(offset).line}`;
  if (doc.errors.length > 0) {
    const messages = doc.errors.map((err) => `${where(err.pos[0])}: ${err.message.split('\n')[0]}`);
    throw configError(fileName, messages);
  }
  const lineOf = (path: readonly PropertyKey[]): string => {
    for (let length = path.length; length >= 0; length--) {
      const node = doc.getIn(path.slice(0, length), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) return where(node.range[0]);
      if (length === 0 && isMap(doc.contents)) return where(doc.contents.range?.[0]);
    }
    return fileName;
  };
  const report = (issues: ConfigIssue[]): FleetError =>
    configError(
      fileName,
      issues.map((issue) => `${lineOf(issue.path)}: ${formatPath(issue.path) || '(top)'}: ${issue.message}`),
    );
  const parsed = fleetSchema.safeParse(doc.toJS());
  if (!parsed.success) throw report(parsed.error.issues.flatMap((issue) => explain(issue, [])));
  try {
    return resolveFleet(parsed.data, sources);
  } catch (err) {
    if (err instanceof InventoryIssues) throw report(err.issues);
    throw err;
  }
}

export async function loadFleet(file: string, sources?: SecretSources): Promise<Fleet> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new FleetError('FLEET_CONFIG', `cannot read ${file}: ${(err as Error).message}`, {
      hint: 'pass the inventory with --config FILE (default deploy/fleet.yml)',
      exitCode: 2,
    });
  }
  return parseFleet(text, file, sources);
}

function configError(fileName: string, messages: string[]): FleetError {
  // A file that is fine but names a secret the controller has no value for is not an invalid file.
  const onlySecrets = messages.every(isMissingSecret);
  return new FleetError(
    'FLEET_CONFIG',
    onlySecrets
      ? `${fileName} names secrets that have no value on the controller:\n  ${messages.join('\n  ')}`
      : `${fileName} is not a valid fleet file:\n  ${messages.join('\n  ')}`,
    {
      hint: messages.some(isMissingSecret)
        ? 'give each secret named above its value on the controller: export the variable in the shell that runs pier, or fill the file (fleet.yml names secrets, their values come from the controller)'
        : 'see docs/fleet.md for every key',
      exitCode: 2,
    },
  );
}

/** Turns one zod issue into messages a user can act on (unions explained by their best branch). */
function explain(issue: z.core.$ZodIssue, prefix: PropertyKey[]): ConfigIssue[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const guess = closest(key, knownKeys);
      return { path: [...path, key], message: `unknown key${guess ? `; did you mean "${guess}"?` : ''}` };
    });
  }
  if (issue.code === 'invalid_union' && issue.message === 'Invalid input') {
    // An object where a string would also do: the object branch's complaints are the real ones.
    const branch = issue.errors.find(
      (issues) => !issues.every((i) => i.code === 'invalid_type' && i.path.length === 0),
    );
    if (branch) return branch.flatMap((inner) => explain(inner, path));
    return [{ path, message: 'expected a host name or a host object with a name' }];
  }
  // zod leaves `input` out of its issues: a missing key is the type error that received nothing.
  if (
    issue.code === 'invalid_type' &&
    issue.input === undefined &&
    /received undefined$/.test(issue.message)
  ) {
    return [{ path, message: 'required' }];
  }
  return [{ path, message: issue.message.replace(/^Invalid (input|option): /, '') }];
}
