import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCgiArguments } from './cgi-arguments.js';
import { defaultCgiLimits } from './run-cgi.js';

test('an app alone takes the default limits; options take a separate or an = value', () => {
  assert.deepEqual(parseCgiArguments(['app.js']), { app: 'app.js', ...defaultCgiLimits });
  assert.deepEqual(parseCgiArguments(['--limit-post', '1m', '--body-timeout=500', 'app.js']), {
    app: 'app.js',
    limitPost: 1024 * 1024,
    timeoutMs: 500,
  });
  assert.equal(parseCgiArguments(['--', '--odd-name.js']).app, '--odd-name.js');
});

test('bad arguments name themselves and show the usage', () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /no app module given/],
    [['a.js', 'b.js'], /one app module, got 2/],
    [['--verbose', 'a.js'], /unknown option "--verbose"/],
    [['a.js', '--limit-post'], /--limit-post needs a value/],
    [['--body-timeout', '0', 'a.js'], /--body-timeout: expected an integer >= 1, got "0"/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => parseCgiArguments(argv),
      (err: Error & { code?: string }) =>
        err.code === 'CGI_USAGE' && message.test(err.message) && err.message.includes('usage: pier cgi'),
      argv.join(' '),
    );
  }
});
