// The handler contract: what an app module may export, and how pier tells the forms apart.
//   - an object with `fetch(request)` (Hono, itty, the Web standard)
//   - a bare function `(request) => Response`
//   - a Node `(req, res)` listener (Express, Koa's `app.callback()`, connect)
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppLoadError } from '../errors.js';

export type FetchHandler = (request: Request) => Response | Promise<Response>;
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

export type App = { kind: 'fetch'; fetch: FetchHandler } | { kind: 'node'; listener: NodeListener };

/** Whether a handler returned a promise (or any thenable) rather than its answer. */
export const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/** What a default export that is no handler is, for the error that says so. */
function describeExport(exported: unknown): string {
  if (exported === undefined) return 'the module has no default export';
  if (exported === null) return 'the default export is null, not a handler';
  if (typeof exported === 'object') return 'the default export is an object without a fetch method';
  const shown = typeof exported === 'string' ? JSON.stringify(exported.slice(0, 40)) : String(exported);
  return `the default export is a ${typeof exported} (${shown}), not a handler`;
}

/** Classify a module's default export. Node listeners take (req, res) or (req, res, next). */
export function toApp(exported: unknown, where: string): App {
  if (typeof exported === 'function') {
    if (exported.length >= 2) return { kind: 'node', listener: exported as NodeListener };
    return { kind: 'fetch', fetch: exported as FetchHandler };
  }
  if (exported !== null && typeof exported === 'object') {
    const fetch = (exported as { fetch?: unknown }).fetch;
    if (typeof fetch === 'function') {
      return { kind: 'fetch', fetch: (request) => fetch.call(exported, request) };
    }
  }
  throw new AppLoadError(
    `${where}: ${describeExport(exported)}; export default an object with fetch(request), ` +
      'a function (request) => Response, or a Node (req, res) listener',
  );
}

/**
 * What a Node listener's return value says about the request, for `onFailure(err)`: a promise
 * that rejects is the app's failure; a Response, or a promise of one, means the export was a
 * fetch handler taken for a listener because it declares two parameters (`(request, env)`,
 * Deno's `(req, info)`). Either way the request would otherwise hang. Listeners that return
 * nothing (Express, connect) cost one comparison.
 */
export function watchListenerResult(returned: unknown, onFailure: (err: Error) => void): void {
  if (returned === undefined) return;
  const check = (value: unknown): void => {
    if (typeof value === 'object' && value !== null && 'status' in value && 'headers' in value)
      onFailure(
        new AppLoadError(
          'the default export takes two parameters, so pier runs it as a Node (req, res) listener, but it returned a Response: ' +
            'export { fetch(request) } or a one-parameter function (request) => Response instead',
        ),
      );
  };
  if (isThenable(returned))
    returned.then(check, (err: unknown) => onFailure(err instanceof Error ? err : new Error(String(err))));
  else check(returned);
}
