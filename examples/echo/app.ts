// The echo app: answers JSON describing the request it got, so protocol tests can check what
// crossed the gateway. Query parameters steer the response:
//   status=NNN        answer with that status
//   cookie=V (repeat) one Set-Cookie header per value (repeated response headers)
//   chunks=N          stream the JSON followed by N extra lines, one every 10 ms
import { createHash } from 'node:crypto';

export interface EchoReport {
  method: string;
  path: string;
  rawQuery: string;
  query: Record<string, string[]>;
  headers: Record<string, string>;
  bodyLength: number;
  bodySha256: string;
}

async function report(request: Request): Promise<EchoReport> {
  const url = new URL(request.url);
  const query: Record<string, string[]> = {};
  for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key);
  const body = new Uint8Array(await request.arrayBuffer());
  return {
    method: request.method,
    path: url.pathname,
    rawQuery: url.search.slice(1),
    query,
    headers: Object.fromEntries(request.headers),
    bodyLength: body.length,
    bodySha256: createHash('sha256').update(body).digest('hex'),
  };
}

function streamed(first: string, extraLines: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let sent = 0;
  return new ReadableStream({
    start(controller) {
      controller.enqueue(encoder.encode(`${first}\n`));
    },
    async pull(controller) {
      if (sent === extraLines) return controller.close();
      await new Promise((resolve) => setTimeout(resolve, 10));
      controller.enqueue(encoder.encode(`line ${++sent}\n`));
    },
  });
}

export default {
  async fetch(request: Request): Promise<Response> {
    const echo = await report(request);
    const status = Number(echo.query.status?.[0] ?? 200);
    const headers = new Headers({ 'content-type': 'application/json' });
    for (const cookie of echo.query.cookie ?? []) headers.append('set-cookie', cookie);
    const chunks = Number(echo.query.chunks?.[0] ?? 0);
    const json = JSON.stringify(echo);
    if (status === 204 || status === 304) return new Response(null, { status, headers });
    return new Response(chunks > 0 ? streamed(json, chunks) : json, { status, headers });
  },
};
