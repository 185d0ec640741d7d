// node:stream, loaded the first time something needs it. A CGI process answering a GET with a
// body already in memory needs no stream at all, and loading the module costs it about 1 ms of
// the ~20 a bare Node pays to start (bench/cgi); importing it statically would load it always.
import { createRequire } from 'node:module';
import type * as Stream from 'node:stream';

let loaded: typeof Stream | undefined;

export function streamModule(): typeof Stream {
  loaded ??= createRequire(import.meta.url)('node:stream') as typeof Stream;
  return loaded;
}
