// The uwsgi fixture corpus (test/fixtures/uwsgi/{valid,invalid}) replayed through the parser
// whole, byte by byte and in random chunks: every replay must parse the same.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RequestHead } from '../src/server/app/request-head.js';
import type { BadRequestError } from '../src/server/errors.js';
import { gatewayHead, lazyGatewayHead } from '../src/server/gateway/gateway-head.js';
import { type UwsgiEvent, UwsgiParser, type UwsgiVars } from '../src/server/uwsgi/uwsgi-parser.js';
import { type InvalidUwsgi, uwsgiPacket, type ValidUwsgi, type Var } from './fixtures/uwsgi/packet.js';
import { loadFixtures, replays } from './helpers/corpus.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/uwsgi');

interface Outcome {
  vars?: Array<[string, string]>;
  contentLength?: number | null;
  body: string;
  ended: boolean;
  error?: { code: string; status: number; message: string };
  errorWithVars?: boolean;
  afterError: number;
}

function parse(chunks: Buffer[], bufferSize: number, closes: boolean): Outcome {
  const out: Outcome = { body: '', ended: false, afterError: 0 };
  const parser = new UwsgiParser(bufferSize, (event: UwsgiEvent) => {
    if (out.error) out.afterError++;
    if (event.kind === 'request') {
      out.vars = event.vars.pairs();
      out.contentLength = event.contentLength;
    } else if (event.kind === 'body') out.body += event.data.toString('latin1');
    else if (event.kind === 'end') out.ended = true;
    else {
      out.error = { code: event.error.code, status: event.error.status, message: event.error.message };
      out.errorWithVars = event.vars !== undefined;
    }
  });
  for (const chunk of chunks) parser.push(chunk);
  if (closes) parser.end();
  return out;
}

for (const [name, fixture] of await loadFixtures<ValidUwsgi>(path.join(fixtures, 'valid'))) {
  test(`uwsgi valid/${name}: ${fixture.description}`, () => {
    for (const replay of replays(fixture.bytes)) {
      const out = parse(replay.chunks, fixture.bufferSize ?? 65535, false);
      assert.equal(out.error, undefined, `${replay.name}: ${out.error?.message}`);
      assert.deepEqual(out.vars, fixture.vars, replay.name);
      assert.equal(out.body, fixture.body ?? '', replay.name);
      const contentLength =
        fixture.contentLength === undefined
          ? Buffer.byteLength(fixture.body ?? '', 'latin1')
          : fixture.contentLength;
      assert.equal(out.contentLength, contentLength, replay.name);
      assert.ok(out.ended, `${replay.name}: the request ended`);
    }
  });
}

for (const [name, fixture] of await loadFixtures<InvalidUwsgi>(path.join(fixtures, 'invalid'))) {
  test(`uwsgi invalid/${name}: ${fixture.description} → ${fixture.code}`, () => {
    let first: string | undefined;
    for (const replay of replays(fixture.bytes)) {
      const out = parse(replay.chunks, fixture.bufferSize ?? 65535, fixture.closes ?? false);
      assert.ok(out.error, `${replay.name}: an error`);
      assert.equal(out.error.code, fixture.code, `${replay.name}: ${out.error.message}`);
      assert.equal(out.error.status, fixture.status, replay.name);
      assert.equal(out.afterError, 0, `${replay.name}: nothing is emitted after the error`);
      assert.ok(!out.ended, replay.name);
      assert.equal(out.errorWithVars, fixture.withVars ?? false, `${replay.name}: vars with the error`);
      first ??= out.error.message;
      assert.equal(out.error.message, first, `${replay.name}: the same message each way`);
      if (fixture.message) assert.match(out.error.message, fixture.message, replay.name);
    }
  });
}

// The uwsgi front-end decodes only the request line at once and the rest of the head on first
// use: for every packet, that head (or its error) must be the one built from all the vars.
const headCases: Array<[string, Var[]]> = [
  ...(await loadFixtures<ValidUwsgi>(path.join(fixtures, 'valid'))).map(
    ([name, fixture]): [string, Var[]] => [`valid/${name}`, fixture.vars],
  ),
  [
    'header-named params beat client headers; repeats join',
    [
      ['REQUEST_METHOD', 'GET'],
      ['REQUEST_URI', '/a'],
      ['HTTP_X_REAL_IP', '6.6.6.6'],
      ['X-Real-IP', '10.0.0.1'],
      ['HTTP_ACCEPT', 'a'],
      ['HTTP_ACCEPT', 'b'],
      ['HTTP_COOKIE', 'x=1'],
      ['HTTP_COOKIE', 'y=2'],
      ['HTTPS', 'on'],
      ['SERVER_NAME', 'example.test'],
      ['SERVER_PORT', '8443'],
      ['REMOTE_ADDR', '192.0.2.1'],
      ['REMOTE_PORT', '4000'],
      ['SERVER_PROTOCOL', 'HTTP/1.0'],
    ],
  ],
  [
    'no REQUEST_URI: SCRIPT_NAME, UTF-8 PATH_INFO and QUERY_STRING',
    [
      ['REQUEST_METHOD', 'POST'],
      ['SCRIPT_NAME', '/app'],
      ['PATH_INFO', Buffer.from('/ünï côdé')],
      ['QUERY_STRING', 'a=1'],
      ['CONTENT_LENGTH', '3'],
      ['CONTENT_TYPE', 'text/plain'],
    ],
  ],
  [
    'a repeated REQUEST_URI: the last counts; raw bytes in it are percent-encoded',
    [
      ['REQUEST_URI', '/first'],
      ['REQUEST_METHOD', 'GET'],
      ['REQUEST_URI', Buffer.from('/last/ü?q=é')],
    ],
  ],
  ['no REQUEST_METHOD', [['REQUEST_URI', '/']]],
  [
    'a bad method',
    [
      ['REQUEST_METHOD', 'G E T'],
      ['REQUEST_URI', '/'],
    ],
  ],
  [
    'a target without a slash',
    [
      ['REQUEST_METHOD', 'GET'],
      ['REQUEST_URI', 'http://x/'],
    ],
  ],
  [
    'bad percent-encoding in the query',
    [
      ['REQUEST_METHOD', 'GET'],
      ['REQUEST_URI', '/?a=%zz'],
    ],
  ],
];

const headFields = (head: RequestHead): RequestHead => ({
  method: head.method,
  target: head.target,
  headers: head.headers,
  httpVersion: head.httpVersion,
  scheme: head.scheme,
  authority: head.authority,
  remoteAddress: head.remoteAddress,
  remotePort: head.remotePort,
  contentLength: head.contentLength,
});
const outcome = (build: () => RequestHead): RequestHead | string => {
  try {
    return headFields(build());
  } catch (err) {
    return (err as BadRequestError).code;
  }
};

for (const [name, vars] of headCases) {
  test(`uwsgi head built lazily = built from every var: ${name}`, () => {
    let parsed: UwsgiVars | undefined;
    const parser = new UwsgiParser(65535, (event) => {
      if (event.kind === 'request') parsed = event.vars;
    });
    parser.push(uwsgiPacket(vars));
    assert.ok(parsed, 'the packet parsed');
    const packet = parsed;
    const all = packet.pairs();
    assert.deepEqual(
      outcome(() =>
        lazyGatewayHead(
          (name) => packet.lineVar(name),
          () => all,
          'uwsgi',
        ),
      ),
      outcome(() => gatewayHead(all, 'uwsgi')),
    );
  });
}
