// `pier init` as a user runs it: the repository's own deploy/ is exactly what it generates,
// re-running is harmless, existing files are kept without --force, hostile input writes
// nothing, and the generated files pass nginx -t, apache2 -t and systemd-analyze verify.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cgiGetEnv } from './helpers/cgi-env.js';
import { pierBin, repoRoot } from './helpers/paths.js';

function pierInit(cwd: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [pierBin, 'init', ...args], { cwd, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .flatMap((entry) => {
      const relative = path.join(prefix, entry.name);
      return entry.isDirectory() ? listFiles(dir, relative) : [relative];
    })
    .sort();
}

describe('pier init writes the repository deploy/ exactly', () => {
  let project: string;
  before(() => {
    project = mkdtempSync(path.join(tmpdir(), 'pier-init-'));
  });
  after(() => rmSync(project, { recursive: true, force: true }));

  test('regenerating into an empty project gives the repository deploy/, byte for byte and mode for mode', () => {
    const result = pierInit(project);
    assert.equal(result.status, 0, result.stderr);
    const generated = path.join(project, 'deploy');
    const committed = path.join(repoRoot, 'deploy');
    // deploy/fleet.yml is the fleet inventory, written by hand (docs/fleet.md), not by pier init.
    const initFiles = listFiles(committed).filter((file) => file !== 'fleet.yml');
    assert.deepEqual(listFiles(generated), initFiles);
    for (const file of initFiles) {
      const ours = path.join(generated, file);
      const theirs = path.join(committed, file);
      assert.equal(
        readFileSync(ours, 'utf8'),
        readFileSync(theirs, 'utf8'),
        `${file} differs: run \`pier init --force\``,
      );
      assert.equal(statSync(ours).mode & 0o777, statSync(theirs).mode & 0o777, `${file}: mode differs`);
    }
    assert.match(result.stdout, /^created {3}deploy\/systemd\/hello\.service$/m);
  });

  test('running it again changes nothing and says so', () => {
    const result = pierInit(project);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(
      result.stdout
        .split('\n')
        .filter(Boolean)
        .every((line) => line.startsWith('unchanged ')),
      result.stdout,
    );
  });

  test('a file edited by hand is kept, and nothing else is written, unless --force', () => {
    const unit = path.join(project, 'deploy/systemd/hello.service');
    const script = path.join(project, 'deploy/scripts/install.sh');
    writeFileSync(unit, '# edited\n');
    rmSync(script);
    const refused = pierInit(project);
    assert.equal(refused.status, 2);
    assert.equal(
      refused.stderr,
      `error[INIT_EXISTS]: 1 file(s) exist with other content: deploy/systemd/hello.service; nothing was written\n  hint: pass --force to overwrite them, or --dir to write elsewhere\n`,
    );
    assert.equal(readFileSync(unit, 'utf8'), '# edited\n');
    assert.equal(existsSync(script), false, 'install.sh was written although the run was refused');
    const forced = pierInit(project, '--force');
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(forced.stdout, /^replaced {2}deploy\/systemd\/hello\.service$/m);
    assert.match(forced.stdout, /^created {3}deploy\/scripts\/install\.sh$/m);
    assert.match(readFileSync(unit, 'utf8'), /^Type=notify$/m);
  });

  test('hostile values: exit 2, the flag and the problem named, no file or directory created', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'pier-init-hostile-'));
    try {
      for (const args of [
        ['--name', 'hello world'],
        ['--domain', 'example.com\nserver { }'],
        ['--user', "o'brien"],
        ['--app', 'dist/$(id).js'],
      ]) {
        const result = pierInit(empty, ...args, '--dir', 'out');
        assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
        assert.match(
          result.stderr,
          new RegExp(`^error\\[INIT_INPUT\\]: ${args[0]} ".*" contains .*\\n  hint: allowed: `),
        );
        assert.equal(existsSync(path.join(empty, 'out')), false);
      }
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('other names flow through every file', () => {
    const result = pierInit(
      project,
      '--name',
      'shop',
      '--user',
      'shopper',
      '--domain',
      'shop.example.com',
      '--app',
      'build/server.js',
      '--dir',
      'infra',
      '--socket',
      '127.0.0.1:9001',
    );
    assert.equal(result.status, 0, result.stderr);
    // The module is not there (yet): written anyway, with a note naming it.
    assert.match(
      result.stderr,
      /^note: build\/server\.js does not exist in \S+: the generated files name it/m,
    );
    const unit = readFileSync(path.join(project, 'infra/systemd/shop.service'), 'utf8');
    assert.match(unit, /^User=shopper$/m);
    assert.match(
      unit,
      /^ExecStart=\/usr\/bin\/env node \/opt\/shop\/current\/dist\/src\/cli\/main\.js serve infra\/pier\/prod\.ini$/m,
    );
    assert.match(
      readFileSync(path.join(project, 'infra/nginx/shop.conf'), 'utf8'),
      /server_name shop\.example\.com;/,
    );
    const prodIni = readFileSync(path.join(project, 'infra/pier/prod.ini'), 'utf8');
    assert.match(prodIni, /^app = \/opt\/shop\/current\/build\/server\.js$/m);
    // A second app on the same host: its own uwsgi socket, in each file that names it.
    assert.match(prodIni, /^socket = 127\.0\.0\.1:9001$/m);
    assert.match(
      readFileSync(path.join(project, 'infra/nginx/shop.conf'), 'utf8'),
      /uwsgi_pass 127\.0\.0\.1:9001;/,
    );
    assert.match(
      readFileSync(path.join(project, 'infra/systemd/shop.socket'), 'utf8'),
      /^ListenStream=127\.0\.0\.1:9001$/m,
    );
    assert.match(
      readFileSync(path.join(project, 'infra/apache/www/app.js'), 'utf8'),
      /from '\.\.\/\.\.\/\.\.\/build\/server\.js'/,
    );
  });
});

describe('the generated files pass their own tools', () => {
  let work: string;
  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'pier-init-check-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  function nginxTest(site: string) {
    const prefix = path.join(work, 'nginx');
    mkdirSync(prefix, { recursive: true });
    const conf = path.join(prefix, 'nginx.conf');
    const temp = (name: string) => `${name}_temp_path ${prefix}/${name};`;
    writeFileSync(
      conf,
      `pid ${prefix}/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  access_log off;\n  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}\n  include ${site};\n}\n`,
    );
    return spawnSync('nginx', ['-t', '-q', '-c', conf, '-p', prefix, '-e', 'stderr'], { encoding: 'utf8' });
  }

  test('nginx -t accepts deploy/nginx/hello.conf inside an http block', () => {
    const result = nginxTest(path.join(repoRoot, 'deploy/nginx/hello.conf'));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
    const broken = path.join(work, 'broken.conf');
    writeFileSync(
      broken,
      readFileSync(path.join(repoRoot, 'deploy/nginx/hello.conf'), 'utf8').replace('listen 80;', 'listen 80'),
    );
    assert.notEqual(nginxTest(broken).status, 0, 'nginx -t passed a broken file: the check proves nothing');
  });

  test("nginx lets through the bodies prod.ini's limit-post accepts (nginx's default is 1m)", () => {
    const site = readFileSync(path.join(repoRoot, 'deploy/nginx/hello.conf'), 'utf8');
    const ini = readFileSync(path.join(repoRoot, 'deploy/pier/prod.ini'), 'utf8');
    const limit = /^limit-post = (\S+)$/m.exec(ini)?.[1];
    assert.ok(limit, 'prod.ini sets limit-post');
    assert.match(site, new RegExp(`^ {4}client_max_body_size ${limit};$`, 'm'));
  });

  test('apache2 -t accepts deploy/apache/hello.conf (its document root present, in a private /opt)', () => {
    const prefix = path.join(work, 'apache');
    mkdirSync(path.join(prefix, 'logs'), { recursive: true });
    const conf = path.join(prefix, 'httpd.conf');
    const modules = ['mpm_event', 'authz_core'].map(
      (m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`,
    );
    writeFileSync(
      conf,
      [
        `ServerRoot ${prefix}`,
        `Define APACHE_LOG_DIR ${prefix}/logs`,
        ...modules,
        `PidFile ${prefix}/httpd.pid`,
        `ErrorLog ${prefix}/logs/error.log`,
        'Listen 80',
        'ServerName localhost',
        `Include ${path.join(repoRoot, 'deploy/apache/hello.conf')}`,
        '',
      ].join('\n'),
    );
    // The site names /opt/hello/current/...: give apache2 that tree in a mount namespace of its own.
    const result = spawnSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs tmpfs /opt && mkdir -p /opt/hello/current/deploy/apache/www && exec apache2 -t -f "$0"',
        conf,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.equal(`${result.stdout}${result.stderr}`, 'Syntax OK\n');
  });

  test('install.sh parses (sh -n) and refuses an unknown option without touching the host', () => {
    const script = path.join(repoRoot, 'deploy/scripts/install.sh');
    const syntax = spawnSync('sh', ['-n', script], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
    const unknown = spawnSync('sh', [script, '--bogus'], { encoding: 'utf8' });
    assert.equal(unknown.status, 2);
    assert.equal(unknown.stderr, 'install.sh: unknown option --bogus (known: --socket, --no-nginx)\n');
  });

  test('systemd-analyze verify prints nothing for the service and the socket', () => {
    const units = path.join(work, 'units');
    mkdirSync(units, { recursive: true });
    for (const unit of ['hello.service', 'hello.socket']) {
      writeFileSync(path.join(units, unit), readFileSync(path.join(repoRoot, 'deploy/systemd', unit)));
    }
    const verify = () =>
      spawnSync(
        'systemd-analyze',
        ['verify', '--man=no', 'hello.service', 'hello.socket'].map((u, i) => (i > 1 ? `./${u}` : u)),
        {
          cwd: units,
          encoding: 'utf8',
        },
      );
    const result = verify();
    // verify exits 0 on unknown keys and only warns: any output at all is a failure.
    assert.equal(`${result.stdout}${result.stderr}`, '');
    assert.equal(result.status, 0);
    writeFileSync(
      path.join(units, 'hello.service'),
      readFileSync(path.join(units, 'hello.service'), 'utf8').replace(
        'Type=notify',
        'Type=notify\nNotifyAcess=all',
      ),
    );
    assert.match(
      verify().stderr,
      /Unknown key 'NotifyAcess'/,
      'a misspelt key went unnoticed: the check proves nothing',
    );
  });
});

describe("pier init in an app's own project", () => {
  let project: string;
  before(() => {
    project = mkdtempSync(path.join(tmpdir(), 'pier-init-app-'));
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0' }));
    writeFileSync(
      path.join(project, 'app.mjs'),
      "export default { fetch: () => new Response('shop says hi\\n') };\n",
    );
  });
  after(() => rmSync(project, { recursive: true, force: true }));

  test('an app without a package.json: the files name pier as in its own tree, and a note says so', (t) => {
    const bare = mkdtempSync(path.join(tmpdir(), 'pier-init-bare-'));
    t.after(() => rmSync(bare, { recursive: true, force: true }));
    writeFileSync(path.join(bare, 'app.ts'), 'export default { fetch: () => new Response("shop") };\n');
    const result = pierInit(bare, '--name', 'shop', '--app', 'app.ts');
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stderr,
      /^note: there is no package\.json here, .*`npm init -y`, install pier into it/m,
    );
  });

  test('the unit and the CGI script run pier from node_modules/pier; a note until it is a dependency', () => {
    const result = pierInit(project, '--name', 'shop', '--app', 'app.mjs');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /^note: .*node_modules\/pier.*npm pack/m);
    const unit = readFileSync(path.join(project, 'deploy/systemd/shop.service'), 'utf8');
    assert.match(
      unit,
      /^ExecStart=\/usr\/bin\/env node \/opt\/shop\/current\/node_modules\/pier\/dist\/src\/cli\/main\.js serve /m,
    );
    const cgi = readFileSync(path.join(project, 'deploy/apache/www/app.js'), 'utf8');
    assert.match(
      cgi,
      /^#!\/usr\/bin\/env -S node --preserve-symlinks-main \.\.\/\.\.\/\.\.\/node_modules\/pier\/dist\/src\/server\/cgi\/main\.cjs$/m,
    );

    // With pier installed as a dependency (here a link to this checkout, as `npm install` of a
    // directory makes one), the CGI script answers with the app, as Apache would run it.
    writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'shop', version: '1.0.0', dependencies: { pier: 'file:pier.tgz' } }),
    );
    mkdirSync(path.join(project, 'node_modules'));
    symlinkSync(repoRoot, path.join(project, 'node_modules/pier'));
    const again = pierInit(project, '--name', 'shop', '--app', 'app.mjs');
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stderr, '', 'no note once pier is a dependency');
    const www = path.join(project, 'deploy/apache/www');
    const run = spawnSync(path.join(www, 'app.js'), [], {
      cwd: www,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...cgiGetEnv },
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Status: 200 OK\r\n/);
    assert.match(run.stdout, /\r\n\r\nshop says hi\n$/);
  });
});
