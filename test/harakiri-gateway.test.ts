// harakiri behind real nginx: over uwsgi and FastCGI, a slow request gets 504 and its worker
// lives on; a request that spins the event loop still gets 504 (written by the worker's
// watchdog thread in the protocol's own framing) and the worker is replaced.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { http } from './helpers/net.js';
import { type Nginx, startNginx } from './helpers/nginx.js';
import { repoRoot } from './helpers/paths.js';
import { type Served, startServe } from './helpers/serve.js';

const slowApp = path.join(repoRoot, 'dist/test/fixtures/slow-app.js');

describe('harakiri through nginx', () => {
  let pier: Served;
  let nginx: Nginx;
  before(async () => {
    pier = await startServe([
      '--socket',
      '127.0.0.1:0',
      '--fastcgi-socket',
      '127.0.0.1:0',
      '--app',
      slowApp,
      '--processes',
      '2',
      '--harakiri',
      '1',
    ]);
    const [uwsgi, fastcgi] = pier.addresses.map((a) => a.address);
    nginx = await startNginx([
      `    location / {\n      include /etc/nginx/uwsgi_params;\n      uwsgi_pass ${uwsgi};\n    }`,
      `    location / {\n      include /etc/nginx/fastcgi_params;\n      fastcgi_pass ${fastcgi};\n    }`,
    ]);
  });
  after(async () => {
    await nginx.stop();
    await pier.stop();
  });

  for (const [index, protocol] of ['uwsgi', 'fastcgi'].entries()) {
    test(`${protocol}: a slow request gets 504, a spinning one gets 504 and a new worker`, async () => {
      const url = `http://127.0.0.1:${nginx.ports[index]}`;
      const slow = await http(`${url}/sleep?ms=3000`);
      assert.equal(slow.status, 504);
      const exitsBefore = pier.log().match(/worker\.exit/g)?.length ?? 0;
      const spun = await http(`${url}/spin`);
      assert.equal(spun.status, 504, `${spun.status} ${spun.body.toString()}`);
      assert.match(spun.body.toString(), /504 Gateway Timeout/);
      await pier.waitForLog(new RegExp(`(worker\\.exit[^\\n]*SIGKILL[\\s\\S]*){${exitsBefore + 1}}`));
      await pier.waitForLog(/worker\.harakiri/);
      // Its access line, written by the watchdog thread, with the client nginx names (one per
      // protocol's test so far).
      const spinLines = pier.output().match(/^127\.0\.0\.1 - - \[[^\]]+\] "GET \/spin HTTP\/1\.1" 504 20 /gm);
      assert.equal(spinLines?.length, index + 1, pier.output());
      // Whatever worker takes the next request, it answers.
      assert.equal((await http(`${url}/`)).status, 200);
      assert.equal(nginx.errorLog().includes('upstream prematurely closed'), false, nginx.errorLog());
    });
  }
});
