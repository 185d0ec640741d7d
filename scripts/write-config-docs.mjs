// Regenerates docs/config.md from the built option registry (run `npm run build` first).
import { writeFileSync } from 'node:fs';
import { renderConfigDocs } from '../dist/src/server/config/config-docs.js';

writeFileSync(new URL('../docs/config.md', import.meta.url), renderConfigDocs());
