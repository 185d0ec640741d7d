// The environment a web server gives a CGI script for a plain `GET /` (RFC 3875 §4.1), as Apache
// sets it for the tests and bench/cgi; callers add PATH and anything the request needs beyond it.
export const cgiGetEnv = {
  GATEWAY_INTERFACE: 'CGI/1.1',
  REQUEST_METHOD: 'GET',
  REQUEST_URI: '/',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
  HTTP_HOST: 'localhost',
  REMOTE_ADDR: '127.0.0.1',
} as const;
