// A tiny app repository for fleet tests: a package.json without dependencies, a fetch-handler
// module, a one-file build into dist/ and a node:http server around it. Each version is a commit;
// `pier release` tags it. Small on purpose, so building a release takes about a second.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface AppRepo {
  dir: string;
  /** Commits the app as `version`; `healthy: false` makes /health answer 500. */
  commit(version: string, options?: { healthy?: boolean }): void;
  git(...args: string[]): string;
  cleanup(): void;
}

const server = `// Serves dist/app.mjs (a fetch handler) over node:http.
import http from 'node:http';
import app from './dist/app.mjs';

const server = http.createServer(async (req, res) => {
  const response = await app.fetch(new Request(\`http://\${req.headers.host}\${req.url}\`, { method: req.method }));
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
});
server.listen(Number(process.env.PORT ?? 8080), '0.0.0.0');
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
`;

const build = `// The build: copies src/ to dist/ with a banner.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
mkdirSync('dist', { recursive: true });
for (const name of readdirSync('src')) {
  writeFileSync(\`dist/\${name}\`, \`// built\\n\${readFileSync(\`src/\${name}\`, 'utf8')}\`);
}
`;

const app = `import { healthy, version } from './version.mjs';

export default {
  fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/health') {
      return new Response(healthy ? \`ok \${version}\` : 'broken', { status: healthy ? 200 : 500 });
    }
    return new Response(\`Hello! from \${version}\`, { headers: { 'content-type': 'text/plain' } });
  },
};
`;

function pseudoRandom(length: number): Buffer {
  const out = Buffer.alloc(length);
  let state = 0x2545f491;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

export function createAppRepo(): AppRepo {
  const dir = mkdtempSync(path.join(tmpdir(), 'pif-app-'));
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'test@example.net');
  git('config', 'user.name', 'Fleet Test');
  git('config', 'tag.gpgSign', 'false');
  git('config', 'commit.gpgSign', 'false');
  mkdirSync(path.join(dir, 'src'));
  mkdirSync(path.join(dir, 'deploy'));
  const pkg = {
    name: 'hello-fleet',
    version: '1.0.0',
    private: true,
    type: 'module',
    scripts: { build: 'node build.mjs' },
  };
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(
    path.join(dir, 'package-lock.json'),
    `${JSON.stringify({ name: 'hello-fleet', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'hello-fleet', version: '1.0.0' } } }, null, 2)}\n`,
  );
  writeFileSync(path.join(dir, '.gitignore'), 'node_modules/\ndist/\n.pier/\ndeploy/fleet*.yml\n');
  // Until a test writes its own inventory: releases use the host's Node (small and fast).
  writeFileSync(path.join(dir, 'deploy', 'fleet.yml'), 'runtime: host\n');
  writeFileSync(path.join(dir, 'server.mjs'), server);
  writeFileSync(path.join(dir, 'build.mjs'), build);
  writeFileSync(path.join(dir, 'src', 'app.mjs'), app);
  // An incompressible asset, so the artifact (about 100 KiB) is bigger than a "full" test disk.
  mkdirSync(path.join(dir, 'public'));
  writeFileSync(path.join(dir, 'public', 'noise.bin'), pseudoRandom(96 * 1024));
  return {
    dir,
    git,
    commit(version, options = {}) {
      writeFileSync(
        path.join(dir, 'src', 'version.mjs'),
        `export const version = ${JSON.stringify(version)};\nexport const healthy = ${options.healthy !== false};\n`,
      );
      git('add', '-A');
      git('commit', '-q', '-m', `app ${version}`);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
