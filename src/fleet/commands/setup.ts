// What `pier setup` makes sure a host has before its first deploy, as a list of items. Each item
// is a probe (exit 0: present) and, where pier can provide it, a fix; one remote script runs
// them all in order and prints one `pier-setup:<state>:<id>` line per item, so a host is set
// up (or checked) in one round trip and the controller never reads a program's own messages.
import path from 'node:path/posix';
import type { Layout } from './layout.js';
import { type AsRoot, rootTools } from './privilege.js';
import { type Argv, all, each, either, pipe, program, quiet, type Script, writeTo } from './shell.js';

export type ItemState = 'ok' | 'changed' | 'lacks' | 'failed';

export interface SetupItem {
  id: string;
  /** What the host lacks when the probe fails, for people: "curl", "the nginx site". */
  what: string;
  probe: Script;
  /** Undefined: pier cannot provide it (a missing program): the hint says how. */
  fix: Script | undefined;
  hint: string;
}

export const setupMarker = 'pier-setup:';

const say = (state: ItemState, id: string): Argv => ['printf', `${setupMarker}%s:%s\\n`, state, id];
const fail: Argv = ['sh', '-c', 'exit 1'];
const silently = (probe: Argv): Script => quiet(writeTo(probe, '/dev/null'));

/** `pier setup`: each missing item is fixed in order; the first that cannot be stops the host. */
export function setupScript(items: readonly SetupItem[]): Script {
  return all(
    ...items.map((item) =>
      either(
        all(item.probe, say('ok', item.id)),
        item.fix === undefined
          ? all(say('lacks', item.id), fail)
          : either(all(item.fix, say('changed', item.id)), all(say('failed', item.id), fail)),
      ),
    ),
  );
}

/** `pier setup --check`: every item probed, nothing changed. */
export function checkScript(items: readonly SetupItem[]): Script {
  return each(...items.map((item) => either(all(item.probe, say('ok', item.id)), say('lacks', item.id))));
}

/** The `pier-setup:` lines of a setup or check script's output, in order. */
export function parseSetupOutput(stdout: string): Array<{ state: ItemState; id: string }> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith(setupMarker))
    .map((line) => {
      const [state, ...id] = line.slice(setupMarker.length).split(':');
      return { state: state as ItemState, id: id.join(':') };
    });
}

/** A program the later steps call; pier cannot install it. */
export function toolItem(program: string, debianPackage: string): SetupItem {
  return {
    id: `tool-${program}`,
    what: program,
    probe: silently(['command', '-v', program]),
    fix: undefined,
    hint: `install it (Debian: apt-get install ${debianPackage})`,
  };
}

/** `deploy_to` and its releases/ and shared/log/, owned and writable by the login user. */
export function deployToItem(layout: Layout, user: string, root: AsRoot): SetupItem {
  const tree: Argv = ['mkdir', '-p', layout.releases, layout.log];
  const writable = [layout.root, layout.releases, layout.shared, layout.log];
  return {
    id: 'deploy-to',
    what: `${layout.root} writable by ${user}`,
    // Every directory a deploy writes in, not only the root: a releases/ left to root by a copy
    // made by hand passes `test -w` on the root and fails the first stage.
    probe: all(...writable.map((dir) => ['test', '-w', dir])),
    fix: all(
      either(
        silently(['mkdir', '-p', layout.root]),
        root([rootTools.install, '-d', '-o', user, layout.root]),
      ),
      either(['test', '-w', layout.root], root([rootTools.install, '-d', '-o', user, layout.root])),
      tree,
      ...writable
        .slice(1)
        .map((dir) => either(['test', '-w', dir], root([rootTools.install, '-d', '-o', user, dir]))),
    ),
    hint: `make ${layout.root} writable by ${user}, or set ssh.sudo so pier setup can`,
  };
}

/** The system account the service runs as (uWSGI's and gunicorn's own user). */
export function serviceUserItem(name: string, root: AsRoot): SetupItem {
  return {
    id: 'service-user',
    what: `the service user ${name}`,
    probe: silently(['id', '-u', name]),
    fix: root([
      ...[rootTools.useradd, '--system', '--user-group', '--no-create-home'],
      ...['--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name],
    ]),
    hint: `create the user ${name}, or set ssh.sudo so pier setup can`,
  };
}

/**
 * A file root owns, with these exact bytes: sent as an argument, written beside `target` and
 * renamed over it (`check`, when given, must pass on the new file first: `visudo -cf`, say).
 */
export function rootFileItem(options: {
  id: string;
  what: string;
  target: string;
  content: string;
  mode: string;
  layout: Layout;
  root: AsRoot;
  check?: (file: string) => Argv;
  after?: Script;
  /**
   * For a file the login user cannot read (a 0440 sudoers drop-in): what proves it in place
   * when `cmp` cannot (it exists and does what it is for).
   */
  unreadable?: Script;
}): SetupItem {
  const { target, content, layout, root } = options;
  const staged = path.join(layout.root, `.pier-setup-${options.id}`);
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.pier-tmp`);
  const install = [
    writeTo(['printf', '%s', content], staged),
    root([rootTools.install, '-d', '-m', '0755', path.dirname(target)]),
    root([rootTools.install, '-m', options.mode, staged, temporary]),
  ];
  const validated =
    options.check === undefined
      ? []
      : [either(root(options.check(temporary)), all(root([rootTools.rm, '-f', temporary]), fail))];
  return {
    id: options.id,
    what: options.what,
    probe: options.unreadable
      ? either(
          all(['test', '-r', target], pipe(['printf', '%s', content], ['cmp', '-s', '-', target])),
          all(['sh', '-c', 'test ! -r "$1"', 'sh', target], ['test', '-e', target], options.unreadable),
        )
      : pipe(['printf', '%s', content], ['cmp', '-s', '-', target]),
    fix: all(
      ...install,
      ...validated,
      root([rootTools.mv, '-fT', temporary, target]),
      ['rm', '-f', staged],
      ...(options.after ? [options.after] : []),
    ),
    hint: `install ${target} as root, or set ssh.sudo so pier setup can`,
  };
}

/** A unit enabled at boot (`systemctl enable`); the first deploy starts it. */
export function enabledItem(unit: string, root: AsRoot): SetupItem {
  return {
    id: `enabled-${unit}`,
    what: `${unit} enabled`,
    probe: silently([rootTools.systemctl, 'is-enabled', '--quiet', unit]),
    fix: root([rootTools.systemctl, 'enable', '--quiet', unit]),
    hint: `systemctl enable ${unit} as root, or set ssh.sudo so pier setup can`,
  };
}

/** The nginx site linked into sites-enabled; nginx checks the whole configuration, then reloads. */
export function nginxLinkItem(name: string, root: AsRoot): SetupItem {
  const link = `/etc/nginx/sites-enabled/${name}.conf`;
  return {
    id: 'nginx-enabled',
    what: `the nginx site ${name} enabled`,
    probe: all(['test', '-L', link], silently(['test', '-e', link])),
    fix: all(
      root([rootTools.ln, '-sfn', `../sites-available/${name}.conf`, link]),
      either(root([rootTools.nginx, '-t', '-q']), all(root([rootTools.rm, '-f', link]), fail)),
      root([rootTools.systemctl, 'reload-or-restart', 'nginx.service']),
    ),
    hint: `link ${link} and reload nginx as root, or set ssh.sudo so pier setup can`,
  };
}

/** Debian's stock site answers every name on :80 (the health URL included) until it goes. */
export function noDefaultSiteItem(root: AsRoot): SetupItem {
  const link = '/etc/nginx/sites-enabled/default';
  return {
    id: 'nginx-no-default',
    what: "Debian's default nginx site disabled",
    probe: all(['sh', '-c', 'test ! -e "$1" && test ! -L "$1"', 'sh', link]),
    fix: all(
      root([rootTools.rm, '-f', link]),
      root([rootTools.systemctl, 'reload-or-restart', 'nginx.service']),
    ),
    hint: `remove ${link} as root`,
  };
}

/** Exit 0 when sudo would run this exact command line without a password. */
export function sudoAllows(argv: Argv): Script {
  return silently(['sudo', '-n', '-l', ...argv]);
}

/** A command the login user must be able to run through `sudo -n` at deploy time. */
export function sudoRightItem(argv: Argv, user: string): SetupItem {
  return {
    id: `sudo ${argv.join(' ')}`,
    what: `sudo -n ${argv.join(' ')}`,
    probe: sudoAllows(argv),
    fix: undefined,
    hint: `${user} needs a NOPASSWD rule for it: \`pier setup --print-sudoers\` prints the drop-in (setup.sudoers: true installs it)`,
  };
}

/**
 * A shared directory (shared.dirs), made by the login user as a deploy would make it. With
 * `service` (service.user: the app runs as another user), the app's to write too: owned by the
 * login user `owner`, group `service`, mode 2775 (the group of what is created inside follows),
 * so the app and the deploy's hooks both write there.
 */
export function sharedDirItem(
  layout: Layout,
  dir: string,
  service?: { user: string; owner: string; root: AsRoot },
): SetupItem {
  const full = path.join(layout.shared, dir);
  if (!service) {
    return {
      id: `shared-dir-${dir}`,
      what: `shared/${dir}/`,
      probe: all(['test', '-d', full]),
      fix: all(['mkdir', '-p', full]),
      hint: `${layout.root} must be writable by the login user`,
    };
  }
  return {
    id: `shared-dir-${dir}`,
    what: `shared/${dir}/ (group ${service.user}, mode 2775)`,
    probe: program('[ "$(stat -c %U:%G:%a "$1" 2>/dev/null)" = "$2" ]', [
      full,
      `${service.owner}:${service.user}:2775`,
    ]),
    fix: all(
      ['mkdir', '-p', path.dirname(full)],
      service.root([rootTools.install, '-d', '-o', service.owner, '-g', service.user, '-m', '2775', full]),
    ),
    hint: `the app's user ${service.user} writes there: setup needs root for the group (sudo)`,
  };
}

/**
 * A shared file (shared.files and service.env_file): the operator puts it on the host; pier
 * never writes one, as it holds what the repository must not (secrets, per-host settings).
 */
export function sharedFileItem(layout: Layout, file: string): SetupItem {
  return {
    id: `shared-file-${file}`,
    what: `shared/${file}`,
    probe: all(['test', '-f', path.join(layout.shared, file)]),
    fix: undefined,
    hint: `put it at ${path.join(layout.shared, file)} (a deploy needs it; \`pier setup --check\` lists every missing one)`,
  };
}
