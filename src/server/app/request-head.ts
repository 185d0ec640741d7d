// The request as every front-end hands it to the app dispatcher: what arrived on the wire (HTTP)
// or in CGI-style variables (CGI, uwsgi, FastCGI), already validated.

export interface RequestHead {
  method: string;
  /** The raw request target: path plus `?query`, exactly as the client sent it. */
  target: string;
  /** Header pairs in arrival order, names lowercased. */
  headers: Array<[string, string]>;
  httpVersion: '1.0' | '1.1';
  scheme: 'http' | 'https';
  /** `host[:port]` for building absolute URLs when the client sent no Host header. */
  authority: string;
  remoteAddress: string;
  remotePort: number;
  /** Declared body length; null when the body is chunked or absent. */
  contentLength: number | null;
}
