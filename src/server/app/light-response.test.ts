import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LightResponse, lightFlat, lightParts, type ResponseParts, wholeResponse } from './light-response.js';

const Light = LightResponse as unknown as typeof Response;

test('a string body is taken as is, with the default content type the real Response would add', () => {
  const response = new Light('hi', { status: 201, headers: { 'X-One': '1' } });
  assert.deepEqual(lightParts(response), {
    status: 201,
    statusText: '',
    headers: [
      ['x-one', '1'],
      ['content-type', 'text/plain;charset=UTF-8'],
    ],
    body: 'hi',
  });
  assert.equal(response.status, 201);
});

test('touching headers or the body builds the real Response; pier then reads it the standard way', async () => {
  const response = new Light('hello', { headers: [['content-type', 'text/html']] });
  response.headers.set('x-added', 'yes');
  assert.equal(lightParts(response), undefined);
  assert.equal(response.headers.get('x-added'), 'yes');
  assert.equal(await response.text(), 'hello');
});

test('streams and other body kinds are not taken apart', () => {
  assert.equal(lightParts(new Light(new ReadableStream())), undefined);
  assert.equal(lightParts(new Light(new URLSearchParams('a=1'))), undefined);
  assert.equal(lightParts(new Response('real')), undefined);
});

test('instanceof Response holds for light and real responses alike', () => {
  assert.ok(new Light('x') instanceof Light);
  assert.ok(new Response('x') instanceof Light);
  assert.ok(new Light('x') instanceof Response);
  assert.equal(Object.prototype.toString.call(new Light('x')), '[object Response]');
});

test('Response.json builds a light JSON response', () => {
  const parts = lightParts(LightResponse.json({ a: 1 }, { status: 202 }));
  assert.equal(parts?.status, 202);
  assert.equal(parts?.body, '{"a":1}');
  assert.deepEqual(parts?.headers, [['content-type', 'application/json']]);
});

test("lightFlat: the head node:http writes, in one pass over the app's headers", () => {
  const flat = lightFlat(
    new Light('héllo', { status: 201, headers: { 'X-One': '1', Connection: 'close', 'Keep-Alive': 'x' } }),
    'GET',
  );
  assert.deepEqual(flat, {
    status: 201,
    statusText: '',
    headers: ['x-one', '1', 'content-type', 'text/plain;charset=UTF-8', 'content-length', '6'],
    body: 'héllo',
    length: 6,
  });
  const pairs = lightFlat(new Light(new Uint8Array(3), { headers: [['Content-Length', '3']] }), 'GET');
  assert.deepEqual(pairs?.headers, ['content-length', '3']);
  const noContent = lightFlat(
    new Light(null, {
      status: 204,
      headers: new Map([['content-length', '0']]) as unknown as ResponseInit['headers'],
    }),
    'GET',
  );
  assert.deepEqual(noContent?.headers, []);
  assert.throws(
    () => lightFlat(new Light('x', { headers: { 'x-evil': 'a\r\nInjected: yes' } }), 'GET'),
    /invalid header "x-evil"/,
  );
  assert.equal(lightFlat(new Light(new ReadableStream()), 'GET'), undefined);
  assert.equal(lightFlat(new Response('real'), 'GET'), undefined);
});

test('the init the real Response refuses is refused the same way: status range, reason phrase, null-body statuses', () => {
  const refused: Array<[unknown, ResponseInit]> = [
    [null, { status: 0 }],
    [null, { status: 99 }],
    [null, { status: 103 }],
    [null, { status: 600 }],
    [null, { status: 1000 }],
    // A CR or LF in the reason phrase would split the head on the uwsgi, FastCGI and CGI fronts.
    ['x', { statusText: 'OK\r\nSet-Cookie: session=attacker' }],
    ['x', { statusText: 'OK\n' }],
    ['x', { status: 204 }],
    ['x', { status: 304 }],
  ];
  for (const [body, init] of refused) {
    const real = (() => {
      try {
        new Response(body as ConstructorParameters<typeof Response>[0], init);
      } catch (err) {
        return err as Error;
      }
      return undefined;
    })();
    assert.ok(real, `the real Response refuses ${JSON.stringify(init)}`);
    assert.throws(
      () => new Light(body as ConstructorParameters<typeof Response>[0], init),
      (err: Error) => err.constructor === real.constructor && err.message === real.message,
      JSON.stringify(init),
    );
  }
  // What the standard converts, pier converts too: a status given as a string.
  const converted = new Light('x', { status: '404' as unknown as number });
  assert.equal(converted.status, 404);
  assert.equal(lightParts(converted), undefined, 'answered the standard way');
  // Reason phrases with spaces, tabs and obs-text stay on the light path.
  assert.equal(
    lightParts(new Light('x', { status: 299, statusText: 'Fine\tand dandy \u00e9' }))?.statusText,
    'Fine\tand dandy \u00e9',
  );
  assert.equal(lightParts(new Light(null, { status: 204 }))?.status, 204);
});

test("an app's Content-Length that contradicts its whole body is replaced by the body's; HEAD keeps GET's", () => {
  const given = (value: string, body: string | null = 'abc') =>
    new Light(body, { headers: { 'content-length': value, 'content-type': 'text/plain' } });
  const lengthOf = (flat: string[] | undefined): string[] =>
    (flat ?? []).filter((_, i, all) => i % 2 === 1 && all[i - 1] === 'content-length');
  for (const value of ['10', '1', 'abc', '-3', '3.0']) {
    assert.deepEqual(lengthOf(lightFlat(given(value), 'GET')?.headers), ['3'], value);
    const whole = wholeResponse(lightParts(given(value)) as ResponseParts, 'GET');
    assert.deepEqual(
      whole.head.headers.filter(([name]) => name === 'content-length'),
      [['content-length', '3']],
      value,
    );
  }
  assert.deepEqual(lengthOf(lightFlat(given('3'), 'GET')?.headers), ['3']);
  // A HEAD answer with no body says what GET would send.
  assert.deepEqual(lengthOf(lightFlat(given('1234', null), 'HEAD')?.headers), ['1234']);
  assert.deepEqual(lengthOf(lightFlat(given('1234', null), 'GET')?.headers), ['0']);
});
