// Injected into the CommonJS bundle of the CGI entry (finish-build.mjs), which has no
// import.meta: `bundle.url` stands in for import.meta.url, the bundle's own file URL, computed
// the first time a module asks (most requests never do).
let url;
export const bundle = {
  get url() {
    url ??= require('node:url').pathToFileURL(__filename).href;
    return url;
  },
};
