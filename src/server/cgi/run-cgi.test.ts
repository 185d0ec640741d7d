import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { type App, toApp } from '../app/handler.js';
import { streamOutput } from './cgi-output.js';
import { runCgi } from './run-cgi.js';

interface Outcome {
  status: number;
  output: string;
  log: string[];
}

async function cgi(app: App, env: Record<string, string>, body = ''): Promise<Outcome> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const log: string[] = [];
  stdin.end(body);
  const status = await runCgi(app, {
    env: { GATEWAY_INTERFACE: 'CGI/1.1', SERVER_PROTOCOL: 'HTTP/1.1', ...env },
    stdin,
    stdout: streamOutput(stdout),
    log: (line) => log.push(line),
    limitPost: 1024,
    timeoutMs: 1000,
  });
  return { status, output: Buffer.concat(chunks).toString('latin1'), log };
}

const fetchObject = toApp(
  {
    async fetch(request: Request) {
      const body = await request.text();
      return new Response(`${request.method} ${new URL(request.url).pathname} ${body}`, {
        status: 201,
        headers: { 'content-type': 'text/plain' },
      });
    },
  },
  'test',
);

const nodeListener = toApp((req: IncomingMessage, res: ServerResponse) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
  });
  req.on('end', () => {
    res.writeHead(404, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
    res.end(`${req.method} ${req.url} ${req.headers['x-thing']} ${body}`);
  });
}, 'test');

test('a fetch object answers with Status, headers, blank line, body', async () => {
  const out = await cgi(
    fetchObject,
    { REQUEST_METHOD: 'POST', REQUEST_URI: '/p?x=1', CONTENT_LENGTH: '5', CONTENT_TYPE: 'text/plain' },
    'hello',
  );
  assert.equal(out.status, 201);
  assert.equal(out.output, 'Status: 201 Created\r\ncontent-type: text/plain\r\n\r\nPOST /p hello');
});

test('a Node listener gets method, url, headers and body; status and repeated headers come back', async () => {
  const out = await cgi(
    nodeListener,
    { REQUEST_METHOD: 'PUT', REQUEST_URI: '/n?q', CONTENT_LENGTH: '3', HTTP_X_THING: 'yes' },
    'abc',
  );
  assert.equal(out.status, 404);
  assert.match(out.output, /^Status: 404 Not Found\r\n/);
  assert.match(out.output, /\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n/i);
  assert.doesNotMatch(out.output, /connection:|transfer-encoding:/i);
  assert.ok(out.output.endsWith('\r\n\r\nPUT /n?q yes abc'), out.output);
});

test('a HEAD request gets the head and no body', async () => {
  const out = await cgi(fetchObject, { REQUEST_METHOD: 'HEAD', REQUEST_URI: '/' });
  assert.equal(out.output, 'Status: 201 Created\r\ncontent-type: text/plain\r\n\r\n');
});

const badRequests: Array<[string, Record<string, string>, string, number, RegExp]> = [
  ['no REQUEST_METHOD', { REQUEST_URI: '/' }, '', 500, /REQUEST_METHOD is not set/],
  ['a negative CONTENT_LENGTH', { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '-1' }, '', 400, /"-1"/],
  [
    'a CONTENT_LENGTH that is not a number',
    { REQUEST_METHOD: 'POST', CONTENT_LENGTH: 'ten' },
    '',
    400,
    /"ten"/,
  ],
  [
    'a body shorter than CONTENT_LENGTH',
    { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '10' },
    'abc',
    400,
    /after 3 of 10/,
  ],
  ['a body over limit-post', { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '2048' }, '', 413, /limit-post/],
  [
    'a Host that is no host[:port]',
    { REQUEST_METHOD: 'GET', REQUEST_URI: '/', HTTP_HOST: 'x/admin' },
    '',
    400,
    /Host header/,
  ],
];

for (const [what, env, body, status, message] of badRequests) {
  test(`${what} → ${status} and one log line`, async () => {
    const out = await cgi(fetchObject, env, body);
    assert.equal(out.status, status);
    assert.match(out.output, new RegExp(`^Status: ${status} `));
    assert.equal(out.log.length, 1);
    assert.match(out.log[0] ?? '', message);
    assert.doesNotMatch(out.output, /\n\s+at /, 'no stack trace reaches the client');
  });
}

test('an app that throws gives 500 without its message or stack', async () => {
  const app = toApp(() => {
    throw new Error('secret internals');
  }, 'test');
  const out = await cgi(app, { REQUEST_METHOD: 'GET', REQUEST_URI: '/' });
  assert.equal(out.status, 500);
  assert.doesNotMatch(out.output, /secret internals/);
  assert.match(out.log[0] ?? '', /secret internals/);
});
