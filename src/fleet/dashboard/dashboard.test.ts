import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Datacenter, Host } from '../inventory/inventory.js';
import { replayJournal } from '../rollout/journal.js';
import type { HostStatus } from '../status.js';
import type { DeployRun } from './deploy-files.js';
import { phaseOf, summaryOfJournal } from './deploy-view.js';
import { fleetView } from './fleet-view.js';
import { hostDetail } from './host-view.js';
import { escapeHtml, html } from './html.js';
import { fleetPart, hostPart, livePart, page } from './page.js';
import { allowedHostsFor, securityHeaders } from './server.js';

const host = (name: string, dc: string): Host => ({
  name,
  dc,
  address: `10.0.0.${name.length}`,
  internalAddress: name,
  port: 22,
  user: 'deploy',
  deployTo: '/opt/app',
  proxyJump: undefined,
  sudo: false,
});
const dc = (name: string, hosts: Host[]): Datacenter =>
  ({ name, hosts, canary: { kind: 'count', value: 1 } }) as unknown as Datacenter;
const status = (
  name: string,
  dcName: string,
  current: string | undefined,
  extra: Partial<HostStatus> = {},
) => ({
  name,
  dc: dcName,
  current,
  releases: current ? [current] : [],
  last: undefined,
  revisions: [],
  lock: undefined,
  error: undefined,
  ...extra,
});
const xss = '<script>window.__xss=1</script><img src=x onerror="alert(1)">';

test('html escapes every interpolated value and passes its own results through', () => {
  assert.equal(
    escapeHtml(`<a href="x" title='y'>&</a>`),
    '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
  );
  const inner = html`<b>${'<i>'}</b>`;
  assert.equal(
    html`<p title="${'"><script>'}">${inner}${[inner, 3]}${undefined}</p>`.text,
    '<p title="&quot;&gt;&lt;script&gt;"><b>&lt;i&gt;</b><b>&lt;i&gt;</b>3</p>',
  );
});

const journal = [
  {
    type: 'start',
    id: 'D1',
    action: 'deploy',
    version: 'v2',
    sha256: 'x',
    hosts: ['a1', 'a2', 'f1', 'f2'],
    owner: 'me@ctl',
    at: '2024-01-01T00:00:00Z',
  },
  { type: 'host', host: 'a1', state: 'staging', at: 't' },
  { type: 'host', host: 'a1', state: 'healthy', previous: 'v1', at: 't' },
  { type: 'host', host: 'a2', state: 'activating', at: 't' },
  { type: 'host', host: 'f1', state: 'failed', error: xss, code: 'FLEET_HOOK', at: 't' },
  { type: 'host', host: 'f2', state: 'failed', error: xss, code: 'FLEET_HOOK', at: 't' },
]
  .map((r) => JSON.stringify(r))
  .join('\n');
const dcOf = (name: string) => (name.startsWith('a') ? 'ams' : 'fra');

test('a running journal: phase, counts per data center and failures grouped by message', () => {
  const summary = summaryOfJournal(replayJournal(journal) as never, dcOf);
  assert.equal(summary.outcome, undefined);
  assert.equal(summary.phase, 'activating');
  assert.deepEqual(
    summary.dcs.map((row) => [
      row.dc,
      row.hosts,
      row.states.healthy,
      row.states.activating,
      row.states.failed,
    ]),
    [
      ['ams', 2, 1, 1, 0],
      ['fra', 2, 0, 0, 2],
    ],
  );
  assert.deepEqual(summary.failures, [{ message: xss, hosts: ['f1', 'f2'] }]);
  assert.equal(phaseOf([{ state: 'pending' }], undefined, undefined), 'starting');
  assert.equal(phaseOf([{ state: 'staged' }], undefined, undefined), 'staging');
  assert.equal(phaseOf([{ state: 'rolling-back' }], 'budget', undefined), 'halted (budget): rolling back');
  assert.equal(phaseOf([{ state: 'healthy' }], undefined, 'done'), 'finished');
});

test('the grid: a cell per host, versions by count, markers in words and classes', () => {
  const selection = [
    dc('ams', [host('a1', 'ams'), host('a2', 'ams')]),
    dc('fra', [host('f1', 'fra'), host('f2', 'fra')]),
  ];
  const snapshot = {
    gatheredAt: '2024-01-01T00:00:00Z',
    tookMs: 1200,
    status: {
      hosts: [
        status('a1', 'ams', 'v2'),
        status('a2', 'ams', 'v1', { lock: 'me@ctl (deploy D1)' }),
        status('f1', 'fra', 'v2'),
        status('f2', 'fra', undefined, { error: 'cannot connect: connection refused (ECONNREFUSED)' }),
      ],
      expected: 'v2',
      drift: ['a2'],
    },
  };
  const run = { ...summaryOfJournal(replayJournal(journal) as never, dcOf), touchedAt: 't' } as DeployRun;
  const view = fleetView(snapshot, selection, [run], run);
  assert.deepEqual(
    view.versions.map((k) => [k.label, k.cls, k.count]),
    [
      ['v2', 'k0', 2],
      ['v1', 'k1', 1],
      ['unreachable', 'u', 1],
    ],
  );
  const cells = view.dcs.flatMap((d) => d.cells);
  assert.deepEqual(
    cells.map((c) => c.cls),
    ['c k0', 'c k1 d l m', 'c k0 f', 'c u f'],
  );
  assert.equal(
    cells[1]?.title,
    'a2: v1; drift (most run v2); locked by me@ctl (deploy D1); deploy v2: activating',
  );
  assert.deepEqual(view.markers, { drift: 1, failed: 2, locked: 1, unreachable: 1, moving: 1 });

  const markup = fleetPart(view, false).text;
  assert.equal((markup.match(/<a class="c /g) ?? []).length, 4);
  assert.match(markup, /<span data-version="v2">v2<\/span>: <span data-count>2<\/span>/);
});

test('failure messages, host names and versions from the fleet stay text', () => {
  const run = { ...summaryOfJournal(replayJournal(journal) as never, dcOf), touchedAt: 't' } as DeployRun;
  const live = livePart(run).text;
  assert.ok(!live.includes('<script>'), live);
  assert.ok(
    live.includes(
      '&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;',
    ),
  );
  const detail = hostPart(hostDetail(host('f1', 'fra'), status('f1', 'fra', undefined), [run])).text;
  assert.match(detail, /<code data-failure>&lt;script&gt;window.__xss=1/);
  assert.doesNotMatch(detail, /<script|<img/);
  const whole = page({ app: '<b>app</b>', nonce: 'N0NCE', live: true, body: [] }).text;
  assert.match(whole, /<title>&lt;b&gt;app&lt;\/b&gt;: fleet<\/title>/);
  assert.equal((whole.match(/<script/g) ?? []).length, 1);
  assert.match(whole, /<script nonce="N0NCE">/);
});

test('the CSP runs only the nonce-tagged script; only the listen address is answered', () => {
  const csp = securityHeaders('abc')['content-security-policy'] ?? '';
  assert.match(csp, /script-src 'nonce-abc'/);
  assert.match(csp, /default-src 'none'/);
  assert.match(securityHeaders(undefined)['content-security-policy'] ?? '', /script-src 'none'/);
  const allowed = allowedHostsFor('127.0.0.1', 8470) as Set<string>;
  assert.ok(allowed.has('127.0.0.1:8470') && allowed.has('localhost:8470') && allowed.has('[::1]:8470'));
  assert.ok(!allowed.has('evil.example:8470') && !allowed.has('127.0.0.1:80'));
  assert.equal(allowedHostsFor('0.0.0.0', 80), 'any');
  assert.deepEqual([...(allowedHostsFor('10.1.2.3', 80) as Set<string>)], ['10.1.2.3:80']);
});
