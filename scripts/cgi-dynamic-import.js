// src/server/app/dynamic-import.ts in the CommonJS bundle of the CGI entry (finish-build.mjs):
// import() by main.cjs, which passes its own as the bundle wrapper's `pierImport` argument.
/* global pierImport */
export const dynamicImport = (specifier) => pierImport(specifier);
