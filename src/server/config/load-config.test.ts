import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadServeConfig } from './load-config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pier-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(path.join(dir, 'app.js'), 'export default () => new Response("x");\n');

function ini(name: string, text: string): string {
  writeFileSync(path.join(dir, name), text);
  return name;
}

const load = (
  file: string | undefined,
  flags: Array<[string, string]> = [],
  env: Record<string, string> = {},
) => loadServeConfig({ file, flags, env, cwd: dir });

test("the seed's uWSGI dev.ini works with wsgi-file pointing at the app", () => {
  const file = ini('dev.ini', '[uwsgi]\nplugin=python3\nhttp-socket=:9090\nwsgi-file=app.js\n');
  const config = load(file);
  assert.deepEqual(config.sockets, [
    { protocol: 'http', address: { kind: 'tcp', host: '0.0.0.0', port: 9090 } },
  ]);
  assert.equal(config.app, 'app.js');
});

test('[pier] wins over [uwsgi]; FILE:section picks a section', () => {
  const file = ini(
    'both.ini',
    '[uwsgi]\nsocket=127.0.0.1:9000\napp=app.js\n[pier]\nhttp-socket=:8080\napp=app.js\n[other]\nfastcgi-socket=/tmp/pier-test.sock\napp=app.js\n',
  );
  assert.equal(load(file).sockets[0]?.protocol, 'http');
  assert.equal(load(`${file}:uwsgi`).sockets[0]?.protocol, 'uwsgi');
  assert.deepEqual(load(`${file}:other`).sockets[0], {
    protocol: 'fastcgi',
    address: { kind: 'unix', path: '/tmp/pier-test.sock' },
  });
});

test('repeated keys add sockets; a later source replaces them; flags beat env beats ini', () => {
  const file = ini(
    'multi.ini',
    '[pier]\nsocket = 127.0.0.1:9000\nsocket = /run/pier.sock\napp = app.js\nprocesses = 2\n',
  );
  assert.equal(load(file).sockets.length, 2);
  assert.equal(load(file, [], { PIER_PROCESSES: '3' }).processes, 3);
  assert.equal(load(file, [['processes', '4']], { PIER_PROCESSES: '3' }).processes, 4);
  const replaced = load(file, [['socket', ':7000']]);
  assert.deepEqual(replaced.sockets, [
    { protocol: 'uwsgi', address: { kind: 'tcp', host: '0.0.0.0', port: 7000 } },
  ]);
});

test('$(NAME) placeholders come from the environment', () => {
  const file = ini('env.ini', '[pier]\nhttp-socket = :$(PORT)\napp = app.js\nenv = GREETING=$(WHO)\n');
  const config = load(file, [], { PORT: '9999', WHO: 'world' });
  assert.equal(config.sockets[0]?.address.kind === 'tcp' && config.sockets[0].address.port, 9999);
  assert.deepEqual(config.env, [['GREETING', 'world']]);
  assert.throws(() => load(file, [], { PORT: '1' }), {
    message: 'env.ini:4: env: environment variable WHO is not set (used as $(WHO))',
  });
});

test("uWSGI's magic variables in ini values: %n, %d, %%; other % text stays", () => {
  const file = ini(
    'funnyapp.ini',
    '[uwsgi]\nsocket = %d%n.sock\nwsgi-file = %dapp.js\nenv = SALE=50% off, 100%%\n',
  );
  const config = load(file);
  assert.deepEqual(config.sockets[0]?.address, { kind: 'unix', path: path.join(dir, 'funnyapp.sock') });
  assert.equal(config.app, path.join(dir, 'app.js'));
  assert.deepEqual(config.env, [['SALE', '50% off, 100%']]);
});

test('sizes, durations and booleans parse; defaults are sane', () => {
  const config = load(undefined, [
    ['http-socket', '[::1]:8080'],
    ['app', 'app.js'],
    ['limit-post', '5m'],
    ['buffer-size', '64k'],
    ['harakiri', '2.5'],
    ['vacuum', 'yes'],
    ['chmod-socket', '660'],
  ]);
  assert.deepEqual(config.sockets[0]?.address, { kind: 'tcp', host: '::1', port: 8080 });
  assert.equal(config.limitPost, 5 * 1024 * 1024);
  assert.equal(config.bufferSize, 65536);
  assert.equal(config.harakiri, 2.5);
  assert.equal(config.vacuum, true);
  assert.equal(config.chmodSocket, 0o660);
  assert.equal(config.listen, 1024);
  assert.deepEqual(config.uwsgiAllowFrom, ['127.0.0.0/8', '::1', 'unix']);
});

const errors: Array<[string, string, RegExp]> = [
  [
    'bad value',
    '[pier]\nhttp-socket = :9090\napp = app.js\nprocesses = two\n',
    /^bad\.ini:4: processes: expected an integer from 1 to 1024, got "two"$/,
  ],
  [
    'unknown key with a near miss',
    '[pier]\nhttp-socket = :9090\napp = app.js\nprocesess = 2\n',
    /^bad\.ini:4: unknown option "procesess"; did you mean "processes"\?$/,
  ],
  [
    'unknown key far from any',
    '[pier]\nhttp-socket = :9090\nzzzzzz = 1\n',
    /^bad\.ini:3: unknown option "zzzzzz"$/,
  ],
  ['line outside a section', 'app = app.js\n', /^bad\.ini:1: "app = app\.js" is outside any \[section\]/],
  ['bad address', '[pier]\nsocket = localhost\napp = app.js\n', /^bad\.ini:2: socket: expected host:port/],
  [
    'port out of range',
    '[pier]\nsocket = :70000\napp = app.js\n',
    /^bad\.ini:2: socket: port 70000 is out of range: a TCP port is 0 to 65535/,
  ],
  [
    'missing app file',
    '[pier]\nhttp-socket = :9090\napp = nope.js\n',
    /^bad\.ini:3: app: .*nope\.js does not exist$/,
  ],
  [
    'app directory with no module in it',
    '[pier]\nhttp-socket = :9090\napp = .\n',
    /^bad\.ini:3: app: \S+ is a directory with no app module: no package\.json "exports" or "main", and no index\.ts/,
  ],
  [
    'unknown placeholder',
    '[uwsgi]\nsocket = /tmp/%y.sock\napp = app.js\n',
    /^bad\.ini:2: socket: unknown placeholder %y$/,
  ],
  ['no socket', '[pier]\napp = app.js\n', /^no socket to serve on$/],
  [
    'no section',
    '[server]\napp = app.js\n',
    /^bad\.ini: no \[uwsgi\] section \(sections found: \[server\]\)$/,
  ],
];

for (const [what, text, message] of errors) {
  test(`config error: ${what}`, () => {
    const file = ini('bad.ini', text);
    assert.throws(
      () => load(file),
      (err: Error & { code?: string; exitCode?: number }) => {
        assert.match(err.message, message);
        assert.equal(err.code, 'CONFIG');
        assert.equal(err.exitCode, 2);
        return true;
      },
    );
  });
}

test('a missing config file says so', () => {
  assert.throws(() => load('absent.ini'), {
    message: /^absent\.ini: cannot read the config file \(ENOENT\)$/,
  });
});

test('bad values from flags and env name their source', () => {
  const flags0: Array<[string, string]> = [
    ['http-socket', ':1'],
    ['app', 'app.js'],
  ];
  assert.throws(
    () =>
      load(undefined, [
        ['http-socket', ':1'],
        ['app', 'app.js'],
        ['listen', '0'],
      ]),
    {
      message: '--listen: listen: expected an integer from 1 to 65535, got "0"',
    },
  );
  assert.throws(
    () =>
      load(
        undefined,
        [
          ['http-socket', ':1'],
          ['app', 'app.js'],
        ],
        { PIER_HARAKIRI: 'soon' },
      ),
    {
      message: 'PIER_HARAKIRI: harakiri: expected seconds (e.g. 30 or 2.5), got "soon"',
    },
  );
  assert.throws(() => load(undefined, [...flags0, ['socket-timeout', '0']]), {
    message: '--socket-timeout: socket-timeout: expected at least 0.1 seconds, got "0"',
  });
  // A misspelt variable is refused like a misspelt ini key, not left to a silent default.
  const flags: Array<[string, string]> = [
    ['http-socket', ':1'],
    ['app', 'app.js'],
  ];
  assert.throws(() => load(undefined, flags, { PIER_PROCESES: '4' }), {
    message: 'PIER_PROCESES: not an option of pier serve; did you mean PIER_PROCESSES?',
  });
  assert.throws(() => load(undefined, flags, { PIER_HARAKRI: '3' }), {
    message: /did you mean PIER_HARAKIRI\?/,
  });
  // A PIER_ variable far from every option's name, or one pier gives its hooks, is not ours to refuse.
  assert.equal(
    load(undefined, flags, { PIER_TEST_SOCKETS: 'x', PIER_VERSION: 'v2', PIER_OUTCOME: 'done' }).processes,
    1,
  );
});

test('no socket option: the sockets systemd passed are served, each in the protocol of its name', () => {
  const activated = [
    { fd: 3, name: 'unknown' },
    { fd: 4, name: 'uwsgi' },
    { fd: 5, name: 'fastcgi' },
  ];
  const config = loadServeConfig({ flags: [['app', 'app.js']], env: {}, cwd: dir, activated });
  assert.deepEqual(config.sockets, [
    { protocol: 'http', address: { kind: 'fd', name: '3' } },
    { protocol: 'uwsgi', address: { kind: 'fd', name: '4' } },
    { protocol: 'fastcgi', address: { kind: 'fd', name: '5' } },
  ]);
  // A configured socket decides; the passed ones are then matched to it (socket-assignment.ts).
  const configured = loadServeConfig({
    flags: [
      ['app', 'app.js'],
      ['socket', 'fd:web'],
    ],
    env: {},
    cwd: dir,
    activated: [{ fd: 3, name: 'web' }],
  });
  assert.deepEqual(configured.sockets, [{ protocol: 'uwsgi', address: { kind: 'fd', name: 'web' } }]);
  assert.throws(
    () =>
      loadServeConfig({ flags: [['app', 'app.js']], env: {}, cwd: dir, activated: [{ fd: 3, name: 'web' }] }),
    {
      code: 'CONFIG',
      message:
        'systemd passed fd 3 named "web" and no socket option takes it; with no socket in the config, a passed socket\'s name is its protocol: http, uwsgi or fastcgi (an unnamed one serves HTTP)',
    },
  );
});

test("an ini's bare uWSGI flags: master, vacuum, and chmod-socket meaning 666", () => {
  const file = ini(
    'bare.ini',
    '[uwsgi]\nmaster\nvacuum\nchmod-socket\nsocket=/tmp/pier-bare.sock\napp=app.js\n',
  );
  const config = load(file);
  assert.equal(config.vacuum, true);
  assert.equal(config.chmodSocket, 0o666);
});

test('uwsgi-allow-from: a prefix longer than the address, or no address, is refused before binding', () => {
  for (const bad of ['10.0.0.0/33', '::1/129', '1.2.3', '256.0.0.1', 'banana', '127.0.0.1/-1']) {
    assert.throws(
      () =>
        load(undefined, [
          ['uwsgi-allow-from', bad],
          ['app', 'app.js'],
        ]),
      /expected an address, a CIDR block/,
      bad,
    );
  }
  const ok = load(undefined, [
    ['uwsgi-allow-from', '10.0.0.0/32'],
    ['uwsgi-allow-from', '2001:db8::/128'],
    ['app', 'app.js'],
    ['socket', '127.0.0.1:9000'],
  ]);
  assert.deepEqual(ok.uwsgiAllowFrom, ['10.0.0.0/32', '2001:db8::/128']);
});

test("uWSGI's http router option is refused with what pier uses instead", () => {
  const file = ini('router.ini', '[uwsgi]\nhttp = 127.0.0.1:9041\nwsgi-file = app.js\n');
  assert.throws(
    () => load(file),
    /router\.ini:2: unknown option "http": uWSGI's HTTP router.*http-socket serves HTTP/,
  );
});
