// Where the built project lives, for tests that run its commands as real child processes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const pierBin = path.join(repoRoot, 'dist/src/cli/main.js');
export const helloBin = path.join(repoRoot, 'dist/src/hello/main.js');
export const echoApp = path.join(repoRoot, 'dist/examples/echo/app.js');
