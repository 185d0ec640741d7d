// The files `pier serve` binds and removes: a path holding anything but a socket is refused and
// left as it was, a socket another process listens on is never taken over, and at exit only
// what pier created is removed, and only with vacuum.
import assert from 'node:assert/strict';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { http } from './helpers/net.js';
import { echoApp } from './helpers/paths.js';
import { serveFails, startServe } from './helpers/serve.js';

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pier-socket-files-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const isSocket = (file: string): boolean => {
  try {
    return lstatSync(file).isSocket();
  } catch {
    return false;
  }
};

function listen(file: string): Promise<Server> {
  const server = createServer((socket) => {
    // pier's probe connects and hangs up at once.
    socket.on('error', () => {});
    socket.end('holder\n');
  });
  return new Promise((resolve) => server.listen(file, () => resolve(server)));
}

function read(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    connect(file)
      .on('data', (chunk) => {
        text += chunk.toString();
      })
      .on('end', () => resolve(text))
      .on('error', reject);
  });
}

describe('a path that is not a socket', () => {
  for (const option of ['http-socket', 'socket', 'fastcgi-socket', 'stats']) {
    test(`--${option} on a regular file: refused, naming the path; the file is untouched`, async () => {
      const notes = path.join(dir, `notes-${option}.txt`);
      writeFileSync(notes, 'my notes\n');
      const args = option === 'stats' ? ['--http-socket', '127.0.0.1:0'] : [];
      const result = await serveFails([...args, `--${option}`, notes, '--app', echoApp]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(
          `^error\\[SOCKET_PATH\\]: ${notes.replaceAll('.', '\\.')} \\(${option}\\): exists and is not a socket \\(a regular file\\)`,
          'm',
        ),
      );
      assert.doesNotMatch(result.stderr, /worker\.spawn/);
      assert.equal(readFileSync(notes, 'utf8'), 'my notes\n');
    });
  }

  test('a directory at the socket path: refused, the directory stays', async () => {
    const taken = path.join(dir, 'taken.sock');
    mkdirSync(taken);
    const result = await serveFails(['--socket', taken, '--app', echoApp]);
    assert.match(result.stderr, /taken\.sock \(socket\): exists and is not a socket \(a directory\)/);
    assert.ok(statSync(taken).isDirectory());
  });
});

describe('a socket another process listens on', () => {
  for (const option of ['http-socket', 'stats']) {
    test(`--${option}: refused, and the other server keeps its socket`, async () => {
      const file = path.join(dir, `live-${option}.sock`);
      const holder = await listen(file);
      try {
        const args = option === 'stats' ? ['--http-socket', '127.0.0.1:0'] : [];
        const result = await serveFails([...args, `--${option}`, file, '--app', echoApp]);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /another server is listening on this unix socket/);
        assert.equal(await read(file), 'holder\n', 'the holder still answers on its path');
      } finally {
        holder.close();
      }
    });
  }
});

describe('what is left at exit', () => {
  const start = (name: string, vacuum: boolean) => {
    const sock = path.join(dir, `${name}.sock`);
    const stats = path.join(dir, `${name}-stats.sock`);
    const pidfile = path.join(dir, `${name}.pid`);
    const args = ['--http-socket', sock, '--stats', stats, '--pidfile', pidfile, '--app', echoApp];
    return { sock, stats, pidfile, serve: () => startServe([...args, '--vacuum', String(vacuum)]) };
  };

  test('vacuum = false (the default): the sockets and the pidfile stay after SIGTERM; the next start takes them over', async () => {
    const paths = start('kept', false);
    const first = await paths.serve();
    assert.equal(await first.stop(), 0, first.log());
    assert.ok(isSocket(paths.sock), 'the socket file stays without vacuum');
    assert.ok(isSocket(paths.stats), 'the stats socket file stays without vacuum');
    assert.equal(readFileSync(paths.pidfile, 'utf8').trim(), String(first.pid));

    // Nothing listens on the stale sockets: a new server replaces them.
    const second = await paths.serve();
    try {
      assert.equal((await http('http://localhost/', { socketPath: paths.sock })).status, 200);
      assert.match(await read(paths.stats), new RegExp(`"pid": ${second.pid}`));
    } finally {
      await second.stop();
    }
  });

  test('vacuum = true removes what pier created, but not what replaced it meanwhile', async () => {
    const paths = start('vacuumed', true);
    const served = await paths.serve();
    await served.stop();
    assert.ok(!isSocket(paths.sock) && !isSocket(paths.stats), 'both sockets removed');
    assert.throws(() => statSync(paths.pidfile), /ENOENT/);

    const again = await paths.serve();
    // Someone else's file at the socket path and a pidfile naming another master.
    unlinkSync(paths.sock);
    writeFileSync(paths.sock, 'not pier\n');
    writeFileSync(paths.pidfile, '1\n');
    await again.stop();
    assert.equal(readFileSync(paths.sock, 'utf8'), 'not pier\n');
    assert.equal(readFileSync(paths.pidfile, 'utf8'), '1\n');
    assert.ok(!isSocket(paths.stats));
  });
});

describe("uWSGI's magic variables in the ini file", () => {
  test('socket = DIR/%n.sock listens on DIR/app.sock for app.ini; an unknown %y is refused with file:line', async () => {
    const sub = path.join(dir, 'magic');
    mkdirSync(sub);
    writeFileSync(path.join(sub, 'app.ini'), `[uwsgi]\nsocket = ${sub}/%n.sock\nwsgi-file = ${echoApp}\n`);
    const served = await startServe(['app.ini'], { cwd: sub });
    try {
      assert.deepEqual(served.addresses, [{ protocol: 'uwsgi', address: path.join(sub, 'app.sock') }]);
      assert.ok(isSocket(path.join(sub, 'app.sock')));
    } finally {
      await served.stop();
    }

    writeFileSync(path.join(sub, 'typo.ini'), `[uwsgi]\nsocket = ${sub}/%y.sock\nwsgi-file = ${echoApp}\n`);
    const result = await serveFails(['typo.ini'], { cwd: sub });
    assert.equal(result.code, 2);
    assert.equal(result.stderr.split('\n')[0], 'error[CONFIG]: typo.ini:2: socket: unknown placeholder %y');
  });
});
