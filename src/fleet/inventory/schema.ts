// The schema of deploy/fleet.yml (see docs/fleet.md). Only shape and value checks live here; range
// expansion and cross-references (unique host names, dc_order) are checked in inventory.ts.
import { z } from 'zod';

const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Seconds as a number, or a string like `500ms`, `5s`, `2m`; parsed to milliseconds. */
const durationError = 'expected seconds or a duration like 500ms, 5s, 2m';
const duration = z
  .union(
    [
      z.number({ error: durationError }).nonnegative({ error: durationError }),
      z.string().regex(durationPattern, { error: durationError }),
    ],
    { error: durationError },
  )
  .transform((value) => {
    if (typeof value === 'number') return Math.round(value * 1000);
    const [, amount = '0', unit = 's'] = durationPattern.exec(value) ?? [];
    return Math.round(Number(amount) * (unitMs[unit] ?? 1000));
  });

export type Amount = { kind: 'count'; value: number } | { kind: 'percent'; value: number };

/** A host count (`3`) or a share of the hosts (`"10%"`). */
const amountError = 'expected a count like 2 or a percentage like "10%"';
const amount = z
  .union(
    [
      z.number().int({ error: amountError }).nonnegative({ error: amountError }),
      z
        .string()
        .regex(/^\d+(\.\d+)?%$/, { error: amountError })
        // A share of more than all the hosts is a typo ("150%" for "15%"), not a setting.
        .refine((text) => Number.parseFloat(text) <= 100, {
          error: 'a percentage of the hosts is at most "100%"',
        }),
    ],
    { error: amountError },
  )
  .transform(
    (value): Amount =>
      typeof value === 'number'
        ? { kind: 'count', value }
        : { kind: 'percent', value: Number.parseFloat(value.slice(0, -1)) },
  );

const port = z
  .number({ error: 'expected 1-65535' })
  .int({ error: 'expected 1-65535' })
  .min(1, {
    error: 'expected 1-65535',
  })
  .max(65535, { error: 'expected 1-65535' });
const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
  error: 'expected lowercase letters, digits, "-" or "_" (at most 63)',
});
const hostPattern = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:[\]-]*$/, {
  error: 'expected a host name, address or range like web[001:250].example.net',
});
const address = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9.:-]*$/, { error: 'expected a host name or IP address' });
const user = z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/, { error: 'expected a user name like deploy' });
export const remotePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]*$/, {
    error: 'expected an absolute path of letters, digits, ".", "_", "-", "/"',
  })
  .refine((value) => !value.split('/').includes('..'), { error: 'must not contain ".."' });
const jump = z.string().regex(/^([a-z_][a-z0-9_.-]*@)?[A-Za-z0-9][A-Za-z0-9.-]*(:\d{1,5})?$/, {
  error: 'expected [user@]host[:port]',
});

/** Connection settings a data center or a host may override. */
const hostVars = {
  port: port.optional(),
  user: user.optional(),
  deploy_to: remotePath.optional(),
  proxy_jump: jump.optional(),
  /** Run the steps that need root through `sudo -n` (the login user is not root). */
  sudo: z.boolean({ error: 'expected true or false' }).optional(),
};

const hostEntry = z.union([
  hostPattern,
  z.strictObject({
    name: hostPattern,
    address: address.optional(),
    /** Address the other hosts of its data center reach it on (for the artifact relay). */
    internal_address: address.optional(),
    ...hostVars,
  }),
]);

const dcRollout = z.strictObject({
  canary: amount.optional(),
  window: amount.optional(),
  failure_budget: amount.optional(),
});

const datacenter = z.strictObject({
  vars: z.strictObject(hostVars).optional(),
  rollout: dcRollout.optional(),
  hosts: z.array(hostEntry).min(1, { error: 'expected at least one host' }),
});

/**
 * A path inside the release that lives in `<deploy_to>/shared/` instead (shared.dirs,
 * shared.files, service.env_file). Relative, no `.` or `..` parts; `log` and `.pier*` are pier's.
 */
const sharedPath = z.string().superRefine((value, ctx) => {
  const problem = sharedPathProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

function sharedPathProblem(value: string): string | undefined {
  const parts = value.split('/');
  if (value.startsWith('/')) return 'expected a path relative to the release, not an absolute one';
  if (parts.some((part) => part === '.' || part === '..')) {
    return 'expected a path inside the release (no . or .. parts)';
  }
  if (!/^[A-Za-z0-9_@.+-]+(\/[A-Za-z0-9_@.+-]+)*$/.test(value)) {
    return 'expected a relative path of letters, digits, ".", "_", "-", "@", "+", like storage or config/local.json';
  }
  // shared/log holds the log of service manager none: one owner per path.
  if (parts[0] === 'log')
    return 'shared/log is where pier writes the service log (manager none): use another name, like logs';
  if (parts[0]?.startsWith('.pier'))
    return 'names starting with .pier belong to pier (release marker, runtime, environment, hook logs)';
  return undefined;
}

/**
 * A value of service.env: text (where `${NAME}` is the controller's environment variable NAME and
 * `$$` a literal `$`), a number or boolean (as text), or `{ file: PATH }`, a file on the controller.
 */
const envValue = z.union(
  [
    z.string(),
    z.number().transform(String),
    z.boolean().transform(String),
    z.strictObject({ file: z.string().min(1) }),
  ],
  { error: `expected text (with \${NAME} for a controller variable) or { file: PATH }` },
);

export type EnvSource = z.output<typeof envValue>;

/** Hook commands: one shell command, or a list run in order (each through /bin/sh -c). */
const hookCommands = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
    error: 'expected a shell command or a list of them',
  })
  .transform((value) => (typeof value === 'string' ? [value] : value));

const hooks = z.strictObject({
  /** On each host after its release is staged (and its shared links and environment are in place). */
  after_stage: hookCommands.optional(),
  /** On exactly one host per deploy, before the first host is switched (migrations). */
  once: hookCommands.optional(),
  /** On each host before its switch; a failure leaves the old release serving there. */
  before_activate: hookCommands.optional(),
  /** On each host after its health gate; a failure rolls that host back. */
  after_activate: hookCommands.optional(),
  /** Each remote hook command's limit (default: ssh.command_timeout). */
  timeout: duration.optional(),
  /** On the controller, before any host is contacted; a failure stops the deploy. */
  pre_deploy: hookCommands.optional(),
  /** On the controller, after the report is written (PIER_OUTCOME says how it went). */
  post_deploy: hookCommands.optional(),
});

const shared = z.strictObject({
  dirs: z.array(sharedPath).default([]),
  files: z.array(sharedPath).default([]),
});

const service = z
  .strictObject({
    manager: z.enum(['systemd', 'none']),
    /** systemd unit name; defaults to the app name. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9@._-]+$/)
      .optional(),
    /** How activation makes the service pick up the new release (systemd). */
    action: z.enum(['restart', 'reload']).default('restart'),
    /**
     * systemd: the unit file inside the release (`deploy/systemd/hello.service`), installed as
     * /etc/systemd/system/<name>.service at each activation when it differs. Unset: the unit is
     * managed outside pier.
     */
    unit: z
      .string()
      .regex(/^[A-Za-z0-9_@.+-]+(\/[A-Za-z0-9_@.+-]+)*$/, {
        error: 'expected a relative path inside the release, like deploy/systemd/hello.service',
      })
      .refine((value) => !value.split('/').some((part) => part === '.' || part === '..'), {
        error: 'expected a path inside the release (no . or .. parts)',
      })
      .optional(),
    /**
     * The system account the app runs as: created by `pier setup` (`useradd --system`). The unit
     * names it in `User=`; pier does not edit units.
     */
    user: user.optional(),
    /** manager `none`: the program to run from `<deploy_to>/current`, as argv. */
    command: z.array(z.string().min(1)).min(1).optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), envValue).default({}),
    /** A shared file (see `shared.files`) of KEY="value" lines the service and hooks load. */
    env_file: sharedPath.optional(),
    stop_timeout: duration.default(10_000),
  })
  .refine((value) => value.manager !== 'none' || value.command !== undefined, {
    error: 'manager "none" needs a command, e.g. [node, server.js]',
    path: ['command'],
  })
  .refine((value) => value.manager === 'systemd' || value.unit === undefined, {
    error: 'unit needs manager "systemd"',
    path: ['unit'],
  });

/** The first `{word}` in health.body other than `{version}`, if any. */
const unknownPlaceholder = (text: string): string | undefined =>
  [...text.matchAll(/\{(\w+)\}/g)].find((m) => m[1] !== 'version')?.[0];

const health = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  status: z.number().int().min(100).max(599).default(200),
  /**
   * Text the body must contain; `{version}` stands for the version being activated. Another
   * `{word}` is refused: a misspelt `{verison}` would fail every host after the whole timeout.
   */
  body: z
    .string()
    .refine((text) => unknownPlaceholder(text) === undefined, {
      error: (issue) =>
        `${unknownPlaceholder(String(issue.input))} is not a placeholder: {version} is the only one`,
    })
    .optional(),
  timeout: duration.default(30_000),
  interval: duration.default(250),
  /** After the first good answer, wait this long and check again before calling the host healthy. */
  bake: duration.default(0),
});

const rollout = z.strictObject({
  canary: amount.default({ kind: 'count', value: 1 }),
  window: amount.default({ kind: 'count', value: 5 }),
  failure_budget: amount.default({ kind: 'count', value: 0 }),
  dc_order: z.array(name).optional(),
  /** How many data centers roll at the same time. */
  dc_parallel: z.number().int().min(1).default(1),
  /** Hosts staging at the same time, fleet-wide (distribution runs ahead of activation). */
  stage_window: z.number().int().min(1).default(20),
  /** `relay`: upload once per data center, the others pull from that host. */
  distribution: z.enum(['relay', 'direct']).default('relay'),
});

const ssh = z.strictObject({
  user: user.default('root'),
  port: port.default(22),
  identity: z.string().min(1).optional(),
  /** Use the agent at $SSH_AUTH_SOCK when there is one. */
  agent: z.boolean().default(true),
  known_hosts: z.string().min(1).default('~/.ssh/known_hosts'),
  /** `false` trusts any host key: only for throwaway networks. */
  strict_host_keys: z.boolean().default(true),
  connect_timeout: duration.default(10_000),
  command_timeout: duration.default(300_000),
  handshake_concurrency: z.number().int().min(1).default(32),
  /**
   * Connections open at once, in every phase (a laptop's `ulimit -n` is often 1,024; each
   * connection is one descriptor). Hosts beyond it wait, and idle connections are closed first.
   */
  max_open: z.number().int().min(1).default(512),
  proxy_jump: jump.optional(),
  sudo: z.boolean({ error: 'expected true or false' }).default(false),
});

/** A file of the repository's working tree, relative to its root. */
const repoFile = z
  .string()
  .regex(/^[A-Za-z0-9_@.+-]+(\/[A-Za-z0-9_@.+-]+)*$/, {
    error: 'expected a relative path inside the repository, like deploy/nginx/hello.conf',
  })
  .refine((value) => !value.split('/').some((part) => part === '.' || part === '..'), {
    error: 'expected a path inside the repository (no . or .. parts)',
  });

/** What `pier setup` puts on a bare host once, before the first deploy. */
const setup = z.strictObject({
  /** systemd units from the repository installed into /etc/systemd/system (default: service.unit). */
  units: z.array(repoFile).optional(),
  /** nginx site from the repository, linked into /etc/nginx/sites-enabled as <app>.conf. */
  nginx_site: repoFile.optional(),
  /** Remove Debian's `default` site link (it answers every name on :80). */
  disable_default_site: z.boolean().default(false),
  /** Install the sudoers drop-in of `pier setup --print-sudoers` (checked by visudo first). */
  sudoers: z.boolean().default(false),
});

export const fleetSchema = z.strictObject({
  app: name,
  deploy_to: remotePath.optional(),
  keep_releases: z.number().int().min(2, { error: 'expected at least 2 (current and previous)' }).default(5),
  lock_ttl: duration.default(30 * 60_000),
  /**
   * `bundled`: the artifact carries the Node binary that built it and the app runs on that one
   * (hosts need no Node). `host`: the host's own `node`, checked at stage for the build's ABI.
   */
  runtime: z.enum(['bundled', 'host']).default('bundled'),
  setup: setup.default(setup.parse({})),
  shared: shared.default(shared.parse({})),
  hooks: hooks.default({}),
  ssh: ssh.default(ssh.parse({})),
  service,
  health,
  rollout: rollout.default(rollout.parse({})),
  datacenters: z.record(name, datacenter).refine((dcs) => Object.keys(dcs).length > 0, {
    error: 'expected at least one data center',
  }),
});

export type FleetFile = z.output<typeof fleetSchema>;
export type HostEntry = z.output<typeof hostEntry>;
