// `pier dashboard`'s HTTP server: the page, its parts, one host's details, server-sent events
// naming the parts that changed, and the same facts as JSON. Read-only (GET and HEAD only).
// Safe by default: answers only requests whose Host is the address it listens on (a web page
// elsewhere cannot read it through DNS rebinding), sends a CSP that runs only the page's own
// nonce-tagged script, and escapes everything from hosts, journals and fleet.yml (page.ts).
import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Datacenter, Host } from '../inventory/inventory.js';
import type { DeployFiles, DeployHistory, DeployRun } from './deploy-files.js';
import { fleetView } from './fleet-view.js';
import { hostDetail } from './host-view.js';
import { type Html, html } from './html.js';
import { deploysPart, fleetPart, hostPart, livePart, page } from './page.js';
import type { StatusFeed } from './status-feed.js';

export interface DashboardSources {
  app: string;
  selection: readonly Datacenter[];
  feed: StatusFeed;
  deploys: DeployFiles;
}

export interface DashboardOptions {
  /** How often .pier/deploys is looked at for changes, ms (default 500). */
  pollMs?: number;
  /** Least time between two grid updates pushed during a deploy, ms (default 2000). */
  fleetEveryMs?: number;
}

type Part = 'fleet' | 'live' | 'deploys';

const loopback = new Set(['127.0.0.1', '::1', 'localhost']);

export class DashboardServer {
  private readonly server: http.Server;
  private readonly clients = new Set<ServerResponse>();
  private readonly hosts: Map<string, Host>;
  private allowedHosts: Set<string> | 'any' = new Set();
  private watcher: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private watching = false;
  private seen = {
    fingerprint: '',
    generation: -1,
    refreshing: false,
    live: undefined as string | undefined,
  };
  private fleetDirty = false;
  private fleetSentAt = 0;

  constructor(
    private readonly sources: DashboardSources,
    private readonly options: DashboardOptions = {},
  ) {
    this.hosts = new Map(sources.selection.flatMap((dc) => dc.hosts).map((h) => [h.name, h]));
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) this.send(res, 500, 'text/plain', 'internal error\n');
        else res.destroy();
      });
    });
  }

  /** Listens on `host:port` (port 0: any free one); resolves the address actually bound. */
  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    this.allowedHosts = allowedHostsFor(host, address.port);
    this.watcher = setInterval(() => void this.watch(), this.options.pollMs ?? 500);
    this.keepAlive = setInterval(() => {
      for (const client of this.clients) client.write(': still here\n\n');
    }, 15_000);
    return address;
  }

  async close(): Promise<void> {
    if (this.watcher) clearInterval(this.watcher);
    if (this.keepAlive) clearInterval(this.keepAlive);
    for (const client of this.clients) client.end();
    this.clients.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const hostHeader = (req.headers.host ?? '').toLowerCase();
    if (this.allowedHosts !== 'any' && !this.allowedHosts.has(hostHeader)) {
      this.send(res, 421, 'text/plain', 'this dashboard answers only at the address it listens on\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      this.send(res, 405, 'text/plain', 'the dashboard is read-only\n');
      return;
    }
    const nonce = randomBytes(16).toString('base64');
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const route = url.pathname;
    const history = await this.sources.deploys.read();
    if (route === '/') return this.html(res, 200, this.fullPage(history, nonce), nonce);
    if (route === '/events') return this.events(res);
    if (route === '/refresh') {
      void this.sources.feed.refresh();
      res.setHeader('location', '/');
      return this.send(res, 303, 'text/plain', 'gathering status\n');
    }
    if (route.startsWith('/parts/')) {
      const part = this.part(route.slice('/parts/'.length) as Part, history);
      return part ? this.html(res, 200, part) : this.notFound(res);
    }
    if (route.startsWith('/hosts/')) {
      const host = this.hosts.get(decoded(route.slice('/hosts/'.length)));
      if (!host) return this.notFound(res);
      const detail = hostPart(this.detailOf(host, history.runs));
      if (url.searchParams.get('part') === '1') return this.html(res, 200, detail);
      const back = html`<p><a href="/">the whole fleet</a></p>`;
      return this.html(res, 200, this.pageOf(nonce, host.name, false, [back, detail]), nonce);
    }
    if (route === '/api/status') {
      const snapshot = this.sources.feed.snapshot;
      return this.json(res, 200, {
        gatheredAt: snapshot?.gatheredAt ?? null,
        tookMs: snapshot?.tookMs ?? null,
        refreshing: this.sources.feed.refreshing,
        ...(snapshot?.status ?? { hosts: [], expected: null, drift: [] }),
      });
    }
    if (route === '/api/deploys') {
      return this.json(res, 200, {
        live: history.live ?? null,
        runs: history.runs.map(({ hosts: _hosts, ...run }) => run),
      });
    }
    if (route.startsWith('/api/deploys/')) {
      const run = await this.sources.deploys.run(decoded(route.slice('/api/deploys/'.length)));
      return run
        ? this.json(res, 200, run)
        : this.json(res, 404, { error: 'no such deploy in .pier/deploys' });
    }
    if (route.startsWith('/api/hosts/')) {
      const host = this.hosts.get(decoded(route.slice('/api/hosts/'.length)));
      return host
        ? this.json(res, 200, this.detailOf(host, history.runs))
        : this.json(res, 404, { error: 'no such host in the fleet' });
    }
    return this.notFound(res);
  }

  private detailOf(host: Host, runs: readonly DeployRun[]) {
    const status = this.sources.feed.snapshot?.status.hosts.find((h) => h.name === host.name);
    return hostDetail(host, status, runs);
  }

  private part(name: Part, history: DeployHistory): Html | undefined {
    if (name === 'live') return livePart(history.live);
    if (name === 'deploys') return deploysPart(history.runs);
    if (name === 'fleet') {
      const { feed, selection } = this.sources;
      return fleetPart(fleetView(feed.snapshot, selection, history.runs, history.live), feed.refreshing);
    }
    return undefined;
  }

  private fullPage(history: DeployHistory, nonce: string): Html {
    const parts = [
      this.part('live', history) as Html,
      this.part('fleet', history) as Html,
      hostPart(undefined),
      this.part('deploys', history) as Html,
    ];
    return this.pageOf(nonce, undefined, history.live !== undefined, parts);
  }

  private pageOf(nonce: string, title: string | undefined, live: boolean, body: Html[]): Html {
    const app = this.sources.app;
    return page({ app, nonce, title: title ? `${app}: ${title}` : undefined, live, body });
  }

  private events(res: ServerResponse): void {
    res.writeHead(200, {
      ...securityHeaders(undefined),
      'content-type': 'text/event-stream; charset=utf-8',
    });
    // Whatever changed between the page's render and this connection: the cheap parts again.
    res.write(`retry: 2000\n\nevent: change\ndata: ["live","deploys"]\n\n`);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  /**
   * Looks at .pier/deploys and the status feed; tells the open pages which parts changed. A run
   * that stops being live (its end was written) starts a status gathering: its hosts moved.
   */
  private async watch(): Promise<void> {
    if (this.watching) return;
    this.watching = true;
    try {
      const history = await this.sources.deploys.read();
      const { feed } = this.sources;
      const changed: Part[] = [];
      if (history.fingerprint !== this.seen.fingerprint) {
        changed.push('live', 'deploys');
        this.fleetDirty = true;
        if (this.seen.live !== undefined && history.live?.id !== this.seen.live) void feed.refresh(true);
        this.seen.fingerprint = history.fingerprint;
        this.seen.live = history.live?.id;
      }
      let fleetNow = false;
      if (feed.generation !== this.seen.generation || feed.refreshing !== this.seen.refreshing) {
        this.seen.generation = feed.generation;
        this.seen.refreshing = feed.refreshing;
        this.fleetDirty = true;
        fleetNow = true;
      }
      // The grid is the big part (5,000 cells): during a deploy it is sent at most every few s.
      const now = Date.now();
      if (this.fleetDirty && (fleetNow || now - this.fleetSentAt >= (this.options.fleetEveryMs ?? 2000))) {
        changed.push('fleet');
        this.fleetDirty = false;
        this.fleetSentAt = now;
      }
      if (changed.length > 0 && this.clients.size > 0) {
        const message = `event: change\ndata: ${JSON.stringify(changed)}\n\n`;
        for (const client of this.clients) client.write(message);
      }
    } finally {
      this.watching = false;
    }
  }

  /** `nonce`: the one the page's style and script carry (parts have none: they are fetched). */
  private html(res: ServerResponse, status: number, body: Html, nonce?: string): void {
    this.send(res, status, 'text/html; charset=utf-8', body.text, nonce);
  }

  private json(res: ServerResponse, status: number, value: unknown): void {
    this.send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
  }

  private notFound(res: ServerResponse): void {
    this.send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  }

  private send(res: ServerResponse, status: number, type: string, body: string, nonce?: string): void {
    res.writeHead(status, { ...securityHeaders(nonce), 'content-type': type });
    res.end(body);
  }
}

/** A path segment decoded; a malformed one names nothing (a 404, not a 500). */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return '';
  }
}

/**
 * Headers of every response. The CSP lets only a script and a style carrying this response's
 * nonce run (none at all without one), fetches go to this origin only, and no other site may
 * frame the page.
 */
export function securityHeaders(nonce: string | undefined): Record<string, string> {
  const own = nonce ? `'nonce-${nonce}'` : "'none'";
  return {
    'content-security-policy': [
      "default-src 'none'",
      `script-src ${own}`,
      `style-src ${own}`,
      "connect-src 'self'",
      "img-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
}

/**
 * The Host header values answered: the listen address and, on loopback, its other loopback
 * names; `any` when listening on every interface (the operator chose to serve the network).
 */
export function allowedHostsFor(host: string, port: number): Set<string> | 'any' {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'any';
  const bracket = (name: string) => (name.includes(':') ? `[${name}]` : name);
  const names = loopback.has(host) ? [...loopback, host] : [host];
  return new Set(names.map((name) => `${bracket(name.toLowerCase())}:${port}`));
}
