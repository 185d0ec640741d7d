// After tsc: make the bin entries executable (tsc keeps their shebangs but not the mode).
import { chmodSync } from 'node:fs';

for (const bin of ['dist/src/cli/main.js', 'dist/src/hello/main.js']) chmodSync(bin, 0o755);
