// Turns the variables a gateway sent (uwsgi vars, FastCGI params) into the CGI variable map the
// app layer reads. Three decisions live here:
//   - Repeated HTTP_* variables (a header the client sent twice) are joined as one header line
//     would be: with ", ", or "; " for Cookie. Host is single-valued: the first one counts.
//   - A variable named like a header, not like a CGI variable (`X-Real-IP`, `Host`, as in
//     `uwsgi_param X-Real-IP $remote_addr;`), becomes that request header. It wins over a header
//     of the same name from the client: the web server's config is trusted, the client is not.
//     uWSGI passes such variables to WSGI apps as-is, where frameworks never see them as headers.
//     An empty one is dropped, as nginx's proxy_set_header drops empty values (the seed's
//     `uwsgi_param X-Forwarded-Proto $http_x_forwarded_proto;` is empty for most clients).
//   - Values arrive as latin1 strings (one char per byte). Header values stay so (as in Node's
//     HTTP parser, and as the Fetch Headers class requires); REQUEST_URI and QUERY_STRING get their
//     non-ASCII bytes percent-encoded (the target stays byte-exact); other variables (PATH_INFO,
//     SERVER_NAME...) are decoded as UTF-8.

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const highByte = /[\x80-\xff]/g;

// Char-code loops rather than regular expressions: these run for every variable of every
// request, on short strings, where a regex call costs more than the scan.
function isCgiName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95)) return false;
  }
  return true;
}

function hasHighBytes(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return true;
  return false;
}

/** A CGI meta-variable's value as the app sees it (see the header comment). */
export function metaValue(name: string, value: string): string {
  if (!hasHighBytes(value)) return value;
  if (name === 'REQUEST_URI' || name === 'QUERY_STRING') {
    return value.replace(highByte, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  }
  return Buffer.from(value, 'latin1').toString('utf8');
}

export function cgiVarMap(pairs: Iterable<[string, string]>): Map<string, string> {
  const vars = new Map<string, string>();
  // Created only for a config that sets header-named variables (most send none).
  let fromConfig: Set<string> | undefined;
  for (const [name, value] of pairs) {
    if (name.startsWith('HTTP_')) {
      if (fromConfig?.has(name)) continue;
      const earlier = vars.get(name);
      // Host has one value (a client cannot send two: the web server refuses that). A second
      // HTTP_HOST comes from a config that repeats uwsgi_params' line: keep the first.
      if (name === 'HTTP_HOST' && earlier !== undefined) continue;
      vars.set(
        name,
        earlier === undefined ? value : `${earlier}${name === 'HTTP_COOKIE' ? '; ' : ', '}${value}`,
      );
    } else if (isCgiName(name)) {
      vars.set(name, metaValue(name, value));
    } else if (headerName.test(name) && value !== '') {
      const asCgi = `HTTP_${name.toUpperCase().replaceAll('-', '_')}`;
      vars.set(asCgi, value);
      fromConfig ??= new Set();
      fromConfig.add(asCgi);
    }
  }
  return vars;
}
