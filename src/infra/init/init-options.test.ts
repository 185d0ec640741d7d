// pier init's input rules: defaults, and hostile values refused with the flag, the offending
// character and what is allowed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InfraError } from '../errors.js';
import { formatValue } from './format-values.js';
import { validateInitOptions } from './init-options.js';

describe('pier init options', () => {
  test('defaults: the Hello app, its own user, a .localhost domain, deploy/', () => {
    assert.deepEqual(validateInitOptions({}), {
      pier: '',
      name: 'hello',
      app: 'dist/src/hello/hello.js',
      user: 'hello',
      domain: 'hello.localhost',
      dir: 'deploy',
      socket: '127.0.0.1:9000',
    });
    assert.equal(validateInitOptions({ name: 'shop' }).user, 'shop');
    // In an app's own project pier is a dependency, and its Hello is found there.
    assert.equal(
      validateInitOptions({}, 'node_modules/pier').app,
      'node_modules/pier/dist/src/hello/hello.js',
    );
    assert.equal(validateInitOptions({ app: 'app.mjs' }, 'node_modules/pier').app, 'app.mjs');
  });

  const refused: Array<[Parameters<typeof validateInitOptions>[0], string]> = [
    [{ name: 'he llo' }, '--name "he llo" contains a space'],
    [{ name: 'hello"; rm -rf /' }, '--name "hello\\"; rm -rf /" contains a double quote'],
    [{ name: 'hello\nExecStart=/bin/sh' }, '--name "hello\\nExecStart=/bin/sh" contains a newline'],
    [{ name: 'Hello' }, '--name "Hello" contains "H"'],
    [{ name: '9lives' }, '--name "9lives" is not in the allowed form'],
    [{ name: '' }, '--name "" is empty'],
    [{ user: 'root' }, '--user "root" is root; the service runs as its own unprivileged user'],
    [{ user: 'www data' }, '--user "www data" contains a space'],
    [{ domain: 'example.com;' }, '--domain "example.com;" contains ";"'],
    [{ domain: '$host' }, '--domain "$host" contains "$"'],
    [{ domain: '-bad.example' }, '--domain "-bad.example" is not in the allowed form'],
    [{ app: '../outside/app.js' }, '--app "../outside/app.js" has an empty or ".." segment'],
    [{ app: '/abs/app.js' }, '--app "/abs/app.js" is absolute; give it relative to the project root'],
    [{ app: 'dist/app.js\t' }, '--app "dist/app.js\\t" contains a tab'],
    [{ app: "dist/it's.js" }, '--app "dist/it\'s.js" contains a single quote'],
    [{ app: 'dist/app.py' }, '--app "dist/app.py" is not a .js/.mjs/.cjs/.ts/.mts module'],
    [{ dir: 'deploy/$(whoami)' }, '--dir "deploy/$(whoami)" contains "$"'],
    [{ dir: 'a//b' }, '--dir "a//b" has an empty or ".." segment'],
    [{ socket: ':9001' }, '--socket ":9001" has no address: name the interface, e.g. 127.0.0.1'],
    [{ socket: '127.0.0.1:70000' }, '--socket "127.0.0.1:70000" has port 70000, out of range 1-65535'],
    [{ socket: '127.0.0.1:0' }, '--socket "127.0.0.1:0" has port 0, out of range 1-65535'],
    [{ socket: '300.0.0.1:9000' }, '--socket "300.0.0.1:9000" is not an IPv4 address'],
    [{ socket: '127.0.0.1' }, '--socket "127.0.0.1" is not in the allowed form'],
    [{ socket: 'localhost:9000' }, '--socket "localhost:9000" contains "l"'],
    [{ socket: '127.0.0.1:9000;' }, '--socket "127.0.0.1:9000;" contains ";"'],
  ];
  for (const [input, message] of refused) {
    test(`refused: ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => validateInitOptions(input),
        (err: InfraError) => {
          assert.equal(err.code, 'INIT_INPUT');
          assert.equal(err.exitCode, 2);
          assert.equal(err.message, message);
          assert.match(err.hint ?? '', /^allowed: /);
          return true;
        },
      );
    });
  }
});

describe('values per file format (the second line of defence)', () => {
  test('safe values pass through unchanged in every format', () => {
    for (const format of ['nginx', 'apache', 'ini', 'systemd', 'sh'] as const) {
      assert.equal(formatValue('/opt/hello/current/dist/app.js', format), '/opt/hello/current/dist/app.js');
    }
  });
  test('each format escapes what it can and refuses what it cannot', () => {
    assert.equal(formatValue("it's here", 'sh'), `'it'\\''s here'`);
    assert.equal(formatValue('100%$HOME', 'systemd'), '100%%$$HOME');
    assert.equal(formatValue('a "b"', 'nginx'), '"a \\"b\\""');
    assert.throws(() => formatValue('$host', 'nginx'), /cannot be written into a nginx file: it holds "\$"/);
    assert.throws(() => formatValue('$' + '{X}', 'apache'), /apache file/);
    assert.throws(() => formatValue('a;b', 'ini'), /ini file/);
    assert.throws(() => formatValue('a\nb', 'sh'), /a control character/);
  });
});
