import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasModuleSyntax } from './typescript-format.js';

test('import/export statements are module syntax; CommonJS forms are not', () => {
  for (const text of [
    "export default { fetch() { return new Response('x') } }",
    "import { x } from './lib';",
    "import './side-effect';",
    'import type { App } from "./app";',
    'import app, { y } from "./app";',
    'export const answer: number = 42;',
    'export { a as b };',
    'export * from "./all";',
    '  export async function handler() {}',
    // After another statement on the same line, or behind a byte order mark.
    'const h = { fetch() { return new Response("ok") } }; export default h;',
    'throw new Error("load fail"); export default {}',
    'function f() {} export { f };',
    '\uFEFFexport default { fetch() {} }',
  ]) {
    assert.equal(hasModuleSyntax(text), true, text);
  }
  for (const text of [
    'module.exports = { fetch() {} };',
    "import fs = require('node:fs');",
    'export = handler;',
    "const exported = require('./x'); // not an export statement",
    'const important = 1;',
    'module.exports = { reexport: 1 }; // exported',
  ]) {
    assert.equal(hasModuleSyntax(text), false, text);
  }
});
