// import() for the app loader (load-app.ts), in a module of its own so that the CommonJS bundle
// of the CGI entry can put another in its place (scripts/finish-build.mjs). That bundle runs as a
// vm.Script compiled with a V8 code cache, and V8 11 (Node 20) gives a script compiled from a
// cache the host options of the process that made the cache: an import() written in the bundle
// then finds no loader ("A dynamic import callback was not specified"). There, main.cjs, a
// module Node loaded itself, does the import().

/** Node's import() of `specifier` (a file URL, or a package name resolved from this directory). */
export const dynamicImport = <Module = Record<string, unknown>>(specifier: string): Promise<Module> =>
  import(specifier);
