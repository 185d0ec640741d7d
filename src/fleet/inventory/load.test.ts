import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseFleet } from './load.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

const minimal = `app: hello
service: { manager: none, command: [node, server.js] }
health: { url: "http://127.0.0.1:8080/" }
datacenters:
  ams:
    hosts: [a1, a2]
`;

function errorOf(text: string): string {
  try {
    parseFleet(text, 'fleet.yml');
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('expected the file to be refused');
}

test('the example deploy/fleet.yml passes the schema', () => {
  const file = path.join(repoRoot, 'deploy/fleet.yml');
  const fleet = parseFleet(readFileSync(file, 'utf8'), file);
  assert.deepEqual(
    fleet.datacenters.map((dc) => [dc.name, dc.hosts.length]),
    [
      ['ams', 250],
      ['fra', 120],
      ['sfo', 81],
    ],
  );
  const sfo = fleet.hosts.find((host) => host.name === 'canary.sfo.example.net');
  assert.deepEqual(sfo?.proxyJump, { user: 'deploy', host: 'bastion.sfo.example.net', port: 22 });
  assert.equal(sfo?.port, 2222);
  assert.equal(fleet.health.bake, 10_000);
  assert.deepEqual(fleet.rollout.window, { kind: 'percent', value: 10 });
});

test('defaults: deploy_to /opt/<app>, root over port 22, strict host keys', () => {
  const fleet = parseFleet(minimal, 'fleet.yml');
  assert.equal(fleet.hosts[0]?.deployTo, '/opt/hello');
  assert.equal(fleet.hosts[0]?.user, 'root');
  assert.equal(fleet.hosts[0]?.port, 22);
  assert.equal(fleet.ssh.strict_host_keys, true);
  assert.equal(fleet.service.name, 'hello');
});

test('a bad port is reported with its path and line', () => {
  const text = `${minimal}  fra:
    hosts:
      - f1
      - f2
      - f3
      - { name: f4, port: 70000 }
`;
  assert.match(errorOf(text), /fleet\.yml:12: datacenters\.fra\.hosts\[3\]\.port: expected 1-65535/);
});

test('an unknown key gets a suggestion', () => {
  assert.match(
    errorOf(`${minimal}deploy_too: /srv/x\n`),
    /fleet\.yml:7: deploy_too: unknown key; did you mean "deploy_to"\?/,
  );
});

test('several problems are reported together', () => {
  const text = minimal
    .replace('manager: none', 'manager: upstart')
    .replace('http://127.0.0.1:8080/', 'ftp://x/');
  const message = errorOf(text);
  assert.match(message, /fleet\.yml:2: service\.manager: expected one of "systemd"\|"none"/);
  assert.match(message, /fleet\.yml:3: health\.url: expected an http:\/\/ or https:\/\/ URL/);
  const ranges = errorOf(minimal.replace('[a1, a2]', '["b[3:1]", "c[1-2]"]'));
  assert.match(ranges, /datacenters\.ams\.hosts\[0\]: "b\[3:1\]": range start 3 is after its end 1/);
  assert.match(ranges, /datacenters\.ams\.hosts\[1\]: "c\[1-2\]": expected \[start:end\]/);
});

test('duplicates, unknown dc_order entries and missing keys', () => {
  assert.match(
    errorOf(minimal.replace('[a1, a2]', '["a[1:2]", a2]')),
    /hosts\[1\]: host "a2" is listed twice/,
  );
  assert.match(
    errorOf(`${minimal}rollout: { dc_order: [ams, fra] }\n`),
    /rollout\.dc_order\[1\]: unknown data center "fra"/,
  );
  assert.match(errorOf(minimal.replace(/health:.*\n/, '')), /health: required/);
  assert.match(
    errorOf(minimal.replace('command: [node, server.js]', 'name: x')),
    /service\.command: manager "none" needs a command/,
  );
  assert.match(errorOf(`${minimal}deploy_to: /opt/../etc\n`), /deploy_to: must not contain "\.\."/);
  assert.match(
    errorOf(
      minimal.replace('command: [node, server.js]', 'command: [node, server.js], unit: deploy/x.service'),
    ),
    /service\.unit: unit needs manager "systemd"/,
  );
  assert.match(
    errorOf(
      minimal.replace('manager: none, command: [node, server.js]', 'manager: systemd, unit: ../x.service'),
    ),
    /service\.unit: expected a path inside the release/,
  );
  assert.match(
    errorOf(
      minimal.replace('manager: none, command: [node, server.js]', 'manager: systemd, unit: /etc/x.service'),
    ),
    /service\.unit: expected a relative path inside the release/,
  );
  assert.match(
    errorOf(`${minimal}rollout: { window: ten }\n`),
    /rollout\.window: expected a count like 2 or a percentage/,
  );
  assert.match(
    errorOf(`${minimal}rollout: { failure_budget: "150%" }\n`),
    /rollout\.failure_budget: a percentage of the hosts is at most "100%"/,
  );
});

test('two entries for the same directory on the same machine are refused, naming both', () => {
  const text = `${minimal}  fra:
    hosts:
      - { name: fra-1, address: 10.0.0.14 }
      - { name: fra-2, address: 10.0.0.15, deploy_to: /srv/trial }
      - { name: fra-3, address: 10.0.0.15, deploy_to: /srv/trial/, user: deploy }
`;
  assert.match(
    errorOf(text),
    /fleet\.yml:11: datacenters\.fra\.hosts\[2\]: host "fra-3" has the same target as "fra-2" \(10\.0\.0\.15:22, deploy_to \/srv\/trial\/; also at datacenters\.fra\.hosts\[1\]\)/,
  );
  // A name and the address it is written as elsewhere are one machine too.
  assert.match(
    errorOf(minimal.replace('[a1, a2]', '[a1, { name: a2, address: A1 }]')),
    /hosts\[1\]: host "a2" has the same target as "a1"/,
  );
  // Another deploy_to, another port, or the same private address behind another bastion: distinct.
  const distinct = `${minimal}  fra:
    hosts:
      - { name: f1, address: 10.0.0.15, deploy_to: /srv/one }
      - { name: f2, address: 10.0.0.15, deploy_to: /srv/two }
      - { name: f3, address: 10.0.0.15, deploy_to: /srv/one, port: 2222 }
      - { name: f4, address: 10.0.0.15, deploy_to: /srv/one, proxy_jump: bastion.fra }
`;
  assert.equal(parseFleet(distinct, 'fleet.yml').hosts.length, 6);
});

test('YAML syntax errors carry the line', () => {
  assert.match(errorOf('app: hello\n  bad: [\n'), /fleet\.yml:\d+: /);
});

const withService = (extra: string) =>
  minimal.replace(
    'service: { manager: none, command: [node, server.js] }',
    () => `service: { manager: none, command: [node, server.js]${extra} }`,
  );

test('shared paths: relative, inside the release, not pier own, not nested', () => {
  const message = errorOf(
    `${minimal}shared:\n  dirs: [storage, ../up, /abs, log, a/./b, tmp]\n  files: [.pier-env, tmp/x, hello.pid]\n`,
  );
  assert.match(
    message,
    /fleet\.yml:\d+: shared\.dirs\[1\]: expected a path inside the release \(no \. or \.\. parts\)/,
  );
  assert.match(message, /shared\.dirs\[2\]: expected a path relative to the release, not an absolute one/);
  assert.match(message, /shared\.dirs\[3\]: shared\/log is where pier writes the service log/);
  assert.match(message, /shared\.dirs\[4\]: expected a path inside the release/);
  assert.match(message, /shared\.files\[0\]: names starting with \.pier belong to pier/);
  const nested = errorOf(`${minimal}shared:\n  dirs: [tmp]\n  files: [tmp/x, hello.pid]\n`);
  assert.match(nested, /shared\.files\[0\]: "tmp\/x" is inside the shared "tmp": list only "tmp"/);
  assert.match(nested, /shared\.files\[1\]: shared\/hello\.pid is the pidfile of the service/);
});

test('env_file is a shared file; hooks are lists; the hook timeout defaults to ssh.command_timeout', () => {
  const fleet = parseFleet(
    `${withService(', env_file: .env')}shared: { files: [config/local.json] }\nhooks: { once: node migrate.mjs, after_activate: [a, b] }\n`,
    'fleet.yml',
  );
  assert.deepEqual(fleet.shared, { dirs: [], files: ['config/local.json', '.env'] });
  assert.deepEqual(fleet.hooks.once, ['node migrate.mjs']);
  assert.deepEqual(fleet.hooks.after_activate, ['a', 'b']);
  assert.equal(fleet.hooks.timeoutMs, 300_000);
  assert.match(
    errorOf(`${minimal}hooks: { befor_activate: x }\n`),
    /hooks\.befor_activate: unknown key; did you mean "before_activate"\?/,
  );
});

test(`service.env: \${NAME} from the controller, $$ for $, { file } outside the repository`, () => {
  const text = withService(
    `, env: { PORT: 8080, URL: "postgres://app:\${DB_PASS}@db/x", PRICE: "$$5", KEY: { file: ~/k.txt } }`,
  );
  const read = new Map([['/home/me/k.txt', 'key-bytes\n']]);
  const sources = {
    env: { DB_PASS: `p"a$s'` },
    readFile: (file: string) => {
      const found = read.get(file);
      if (found === undefined) throw new Error('ENOENT');
      return found;
    },
    home: '/home/me',
    repo: '/src/app',
  };
  const fleet = parseFleet(text, 'fleet.yml', sources);
  assert.deepEqual(fleet.env.values, {
    PORT: '8080',
    URL: `postgres://app:p"a$s'@db/x`,
    PRICE: '$5',
    KEY: 'key-bytes',
  });
  assert.deepEqual(
    fleet.env.entries.map((entry) => [entry.key, entry.shown, entry.secret]),
    [
      ['PORT', '8080', false],
      ['URL', `postgres://app:\${DB_PASS}@db/x`, true],
      ['PRICE', '$$5', false],
      ['KEY', '<file ~/k.txt>', true],
    ],
  );
  // Without sources (status, rollback): nothing is read, nothing is required.
  assert.equal(parseFleet(text, 'fleet.yml').env.values, undefined);
  const unset = (() => {
    try {
      parseFleet(text, 'fleet.yml', { ...sources, env: {} });
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  })();
  assert.match(
    unset,
    /fleet\.yml:2: service\.env\.URL: \$\{DB_PASS\} is not set in the controller's environment/,
  );
  // The file itself is fine: the message says what is missing, not that the file is invalid.
  assert.match(unset, /^fleet\.yml names secrets that have no value on the controller:\n/);
  const inside = (() => {
    try {
      parseFleet(text.replace('~/k.txt', 'secrets/k.txt'), 'fleet.yml', sources);
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  })();
  assert.match(inside, /service\.env\.KEY: secrets\/k\.txt is inside the repository/);
});

test('health.body: {version} is the one placeholder; a misspelt one is refused at once', () => {
  assert.match(
    errorOf(minimal.replace(/health:.*\n/, 'health: { url: "http://127.0.0.1/", body: "ok {verison}" }\n')),
    /health\.body: \{verison\} is not a placeholder: \{version\} is the only one/,
  );
  assert.equal(
    parseFleet(
      minimal.replace(/health:.*\n/, 'health: { url: "http://127.0.0.1/", body: "ok {version}" }\n'),
      'fleet.yml',
    ).health.body,
    'ok {version}',
  );
});

test('service.env: an empty secret is refused, unless a default form allows it', () => {
  const sources = (env: Record<string, string>, file = 'key-bytes\n') => ({
    env,
    readFile: () => file,
    home: '/home/me',
    repo: '/src/app',
  });
  const messageOf = (text: string, from: ReturnType<typeof sources>): string => {
    try {
      parseFleet(text, 'fleet.yml', from);
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  };
  // An exported but empty variable (`export DB_PASS=` or a command that printed nothing).
  const plain = withService(`, env: { URL: "postgres://app:\${DB_PASS}@db/x" }`);
  const empty = messageOf(plain, sources({ DB_PASS: '' }));
  assert.match(empty, /^fleet\.yml names secrets that have no value on the controller:\n/);
  assert.match(
    empty,
    /fleet\.yml:2: service\.env\.URL: \$\{DB_PASS\} is empty in the controller's environment \(\$\{DB_PASS:-\} allows that\)/,
  );
  // The shell's default forms: `:-` for unset or empty, `-` for unset only.
  const defaults = withService(
    `, env: { A: "\${X:-fallback}", B: "\${X-fallback}", C: "\${Y:-}", D: "\${Y-}" }`,
  );
  assert.deepEqual(parseFleet(defaults, 'fleet.yml', sources({ X: '' })).env.values, {
    A: 'fallback',
    B: '',
    C: '',
    D: '',
  });
  assert.deepEqual(parseFleet(defaults, 'fleet.yml', sources({ X: 'set', Y: 'y' })).env.values, {
    A: 'set',
    B: 'set',
    C: 'y',
    D: 'y',
  });
  assert.match(
    messageOf(withService(`, env: { A: "\${X:=y}" }`), sources({})),
    /service\.env\.A: \$\{X:=y\}: expected \$\{NAME\}, \$\{NAME:-default\} or \$\{NAME-default\}/,
  );
  // $NAME without braces is what the shell and compose would expand: refused, with both spellings.
  const bare = messageOf(withService(', env: { TOKEN: "$WALK_TOKEN", PRICE: "$5" }'), sources({}));
  assert.match(bare, /^fleet\.yml is not a valid fleet file:\n/);
  assert.match(
    bare,
    /service\.env\.TOKEN: \$WALK_TOKEN: write \$\{WALK_TOKEN\} for the controller's variable WALK_TOKEN, or \$\$WALK_TOKEN for the text \$WALK_TOKEN/,
  );
  assert.doesNotMatch(bare, /PRICE/);
  // An empty secret file, as one created and never filled.
  const fromFile = withService(', env: { KEY: { file: ~/k.txt } }');
  assert.match(
    messageOf(fromFile, sources({}, '\n')),
    /service\.env\.KEY: ~\/k\.txt is empty on the controller/,
  );
});
