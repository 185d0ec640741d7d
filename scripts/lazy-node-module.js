// node:module in the CommonJS bundle of the CGI entry (finish-build.mjs), required the first
// time one of its functions is called: loading node:module costs a CGI process ~0.25 ms, and a
// request for pier's Hello never calls it. Only what the bundled modules import is here; a new
// import fails the build ("No matching export") rather than going unnoticed.
let loaded;
const nodeModule = () => {
  loaded ??= require('node:module');
  return loaded;
};
export const createRequire = (...args) => nodeModule().createRequire(...args);
export const register = (...args) => nodeModule().register(...args);
