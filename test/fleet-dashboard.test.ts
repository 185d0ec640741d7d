// `pier dashboard` on real hosts (network namespaces with sshd), read by headless Chromium and by
// plain HTTP: version cells per data center, a host whose failure message carries markup (it
// stays text, nothing runs), a deploy seen live without a reload, and the page without JavaScript.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DeployFiles } from '../src/fleet/dashboard/deploy-files.js';
import { DashboardServer } from '../src/fleet/dashboard/server.js';
import { StatusFeed } from '../src/fleet/dashboard/status-feed.js';
import type { Datacenter, Host } from '../src/fleet/inventory/inventory.js';
import type { HostStatus } from '../src/fleet/status.js';
import { launchChromium, type TestBrowser } from './helpers/browser.js';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { pier } from './helpers/fleet-cli.js';
import { createTestFleet, leftovers, type TestFleet } from './helpers/fleet-hosts.js';
import { pierBin } from './helpers/paths.js';

// What fra-2's after_stage hook prints when it fails: the last line becomes its failure message.
const markup = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">';

let fleet: TestFleet;
let app: AppRepo;
let dashboard: ChildProcess | undefined;
let url = '';
let browser: TestBrowser | undefined;

function fleetYaml(bake: number | string): string {
  const hook = 'test ! -e /opt/fail-with || { cat /opt/fail-with; exit 3; }';
  return `${fleet.fleetYaml({ health: { timeout: '2s', bake } })}hooks: ${JSON.stringify({ after_stage: hook })}\n`;
}

async function release(version: string): Promise<void> {
  app.commit(version);
  const result = await pier(app.dir, ['release', version]);
  assert.equal(result.code, 0, result.stderr);
}

function get(
  target: string,
  options: { method?: string; host?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const parsed = new URL(target);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: parsed.hostname,
        port: parsed.port,
        path: parsed.pathname + parsed.search,
        method: options.method ?? 'GET',
        headers: options.host ? { host: options.host } : {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function startDashboard(): Promise<void> {
  const child = spawn(
    process.execPath,
    [pierBin, 'dashboard', '--listen', '127.0.0.1:0', '--refresh', '1h'],
    {
      cwd: app.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  dashboard = child;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const found = /dashboard: (http:\/\/\S+?)\/ /.exec(out);
      if (found) resolve(found[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`pier dashboard exited ${code}: ${stderr}`)));
  });
  // The first gathering of status over SSH.
  for (let tries = 0; tries < 100; tries++) {
    const status = JSON.parse((await get(`${url}/api/status`)).body);
    if (status.gatheredAt) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the dashboard never gathered status');
}

before(async () => {
  fleet = await createTestFleet({ ams: 2, fra: 2 });
  app = createAppRepo();
  writeFileSync(path.join(app.dir, 'deploy', 'fleet.yml'), fleetYaml(0));
  writeFileSync(path.join(app.dir, 'deploy', 'fleet-slow.yml'), fleetYaml('2s'));
  writeFileSync(path.join(fleet.host('fra-2').opt as string, 'fail-with'), `${markup}\n`);
  await release('v1');
  const first = await pier(app.dir, ['deploy', 'v1']);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  assert.match(first.stdout, /deploy v1: done, 3\/4 hosts healthy/);
  await startDashboard();
});

after(async () => {
  await browser?.close();
  if (dashboard && dashboard.exitCode === null) {
    const exited = new Promise((resolve) => dashboard?.once('exit', resolve));
    dashboard.kill('SIGTERM');
    await exited;
  }
  await fleet?.cleanup();
  app?.cleanup();
  if (fleet) assert.deepEqual(leftovers(fleet), []);
});

test('the JSON API and the page without JavaScript: the same facts, markup as text', {
  timeout: 60_000,
}, async () => {
  const status = JSON.parse((await get(`${url}/api/status`)).body);
  assert.equal(status.expected, 'v1');
  assert.deepEqual(
    status.hosts.map((h: HostStatus) => [h.name, h.current ?? null]),
    [
      ['ams-1', 'v1'],
      ['ams-2', 'v1'],
      ['fra-1', 'v1'],
      ['fra-2', null],
    ],
  );
  const deploys = JSON.parse((await get(`${url}/api/deploys`)).body);
  assert.equal(deploys.live, null);
  assert.equal(deploys.runs[0].outcome, 'done');
  assert.equal(deploys.runs[0].failures[0].hosts.join(), 'fra-2');
  assert.match(
    deploys.runs[0].failures[0].message,
    /^after_stage hook `.*` failed \(exit 3\): <script>window/,
  );
  const detail = JSON.parse((await get(`${url}/api/hosts/fra-2`)).body);
  assert.equal(detail.address, fleet.host('fra-2').address);
  assert.equal(detail.lastRun.state, 'failed');
  assert.ok(detail.lastRun.error.endsWith(markup), detail.lastRun.error);

  const page = await get(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  const nonce = /script-src 'nonce-([^']+)'/.exec(String(page.headers['content-security-policy']))?.[1];
  assert.ok(nonce, String(page.headers['content-security-policy']));
  assert.deepEqual(
    [...page.body.matchAll(/<script[^>]*>/g)].map((m) => m[0]),
    [`<script nonce="${nonce}">`],
  );
  assert.equal(
    page.body.match(/<a class="c k0[^"]*" href="\/hosts\/[^"]+" [^>]*data-version="v1">/g)?.length,
    3,
  );
  assert.match(page.body, /<a class="c n d f" href="\/hosts\/fra-2"/);

  const host = await get(`${url}/hosts/fra-2`);
  assert.equal(host.status, 200);
  assert.ok(
    host.body.includes(
      '&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;',
    ),
  );
  assert.ok(!host.body.includes('<img'), 'no markup from the host');

  assert.equal((await get(`${url}/`, { host: 'attacker.example:80' })).status, 421);
  assert.equal((await get(`${url}/`, { method: 'POST' })).status, 405);
  assert.equal((await get(`${url}/hosts/nope`)).status, 404);
  assert.equal((await get(`${url}/api/deploys/..%2F..%2Fetc%2Fpasswd`)).status, 404);
});

test('the page: version cells, a failure shown as text, a deploy seen live without a reload', {
  timeout: 120_000,
}, async () => {
  browser = await launchChromium();
  const tab = await browser.context.newPage();
  const violations: string[] = [];
  tab.on('console', (message) => {
    if (/Content Security Policy/.test(message.text())) violations.push(message.text());
  });
  await tab.goto(`${url}/`);
  const cells = (version: string) => tab.locator(`#fleet .g a[data-version="${version}"]`).count();
  assert.equal(await cells('v1'), 3);
  assert.equal(await cells('(none)'), 1);
  assert.equal(await tab.locator('#fleet .g[data-dc="fra"] a').count(), 2);

  // A host's cell opens its details in place.
  await tab.locator('a[href="/hosts/fra-2"]').click();
  await tab.locator('#detail h2', { hasText: 'fra-2' }).waitFor();
  assert.equal(tab.url(), `${url}/`);
  const failure = await tab.locator('#detail [data-failure]').textContent();
  assert.ok(failure?.endsWith(markup), failure ?? '');
  assert.equal(await tab.locator('#detail script, #detail img').count(), 0);
  assert.equal(await tab.evaluate(() => (globalThis as { __xss?: unknown }).__xss), undefined);

  // A deploy started now shows up and moves without a reload.
  await tab.evaluate(() => {
    (globalThis as { __sameDocument?: boolean }).__sameDocument = true;
  });
  await release('v2');
  const deploying = pier(app.dir, ['deploy', 'v2', '-c', 'deploy/fleet-slow.yml']);
  const healthySeen = new Set<string>();
  const total = (state: string) => tab.locator(`#live tr[data-dc=""] [data-state="${state}"]`).textContent();
  await tab.locator('#live h2', { hasText: 'deploy v2' }).waitFor({ timeout: 30_000 });
  let done = false;
  void deploying.then(() => {
    done = true;
  });
  while (!done) {
    const healthy = await total('healthy').catch(() => null);
    if (healthy !== null) healthySeen.add(healthy);
    await new Promise((r) => setTimeout(r, 150));
  }
  const result = await deploying;
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /deploy v2: done, 3\/4 hosts healthy/);
  assert.ok(healthySeen.has('0') && healthySeen.has('1') && healthySeen.size >= 3, [...healthySeen].join());
  // The deploy's end makes the dashboard gather status again: the grid follows.
  await tab.locator('#fleet .g a[data-version="v2"]').nth(2).waitFor({ timeout: 30_000 });
  assert.equal(await cells('v2'), 3);
  assert.equal(await cells('v1'), 0);
  assert.match((await tab.locator('#fleet .legend').first().textContent()) ?? '', /v2: 3/);
  assert.equal(
    await tab
      .locator('#live')
      .textContent()
      .then((t) => t?.trim()),
    'No deploy is running.',
  );
  assert.match((await tab.locator('#deploys tbody tr').first().textContent()) ?? '', /deploy v2\s*done/);
  assert.equal(await tab.evaluate(() => (globalThis as { __sameDocument?: boolean }).__sameDocument), true);
  assert.equal(await tab.evaluate(() => (globalThis as { __xss?: unknown }).__xss), undefined);
  assert.deepEqual(violations, []);
  await tab.locator('a[href="/hosts/fra-2"]').click();
  await tab.locator('#detail h2', { hasText: 'fra-2' }).waitFor();
  await tab.screenshot({ path: path.join(fleet.dir, 'dashboard.png'), fullPage: true });
  // PIER_DASHBOARD_SCREENSHOT=docs/dashboard.png keeps a copy (the one docs/fleet.md shows).
  if (process.env.PIER_DASHBOARD_SCREENSHOT)
    await tab.screenshot({ path: process.env.PIER_DASHBOARD_SCREENSHOT, fullPage: true });
  await tab.close();
});

test('without JavaScript a cell is a link to the host details page', { timeout: 60_000 }, async () => {
  const plain = await launchChromium({ javaScriptEnabled: false });
  try {
    const tab = await plain.context.newPage();
    await tab.goto(`${url}/`);
    await tab.locator('a[href="/hosts/fra-2"]').click();
    await tab.waitForURL(`${url}/hosts/fra-2`);
    assert.ok((await tab.locator('[data-failure]').textContent())?.endsWith(markup));
    assert.match((await tab.locator('dl').textContent()) ?? '', /address\s*10\.77\.\d+\.\d+/);
  } finally {
    await plain.close();
  }
});

test('5,000 hosts in 5 data centers: one cell each, with their markers', { timeout: 60_000 }, async () => {
  const dcs: Datacenter[] = [];
  const statuses: HostStatus[] = [];
  for (const dcName of ['ams', 'fra', 'sfo', 'sin', 'gru']) {
    const hosts: Host[] = [];
    for (let n = 1; n <= 1000; n++) {
      const name = `web${String(n).padStart(4, '0')}.${dcName}.example.net`;
      hosts.push({
        name,
        dc: dcName,
        address: `10.0.${n >> 8}.${n & 255}`,
        internalAddress: name,
        port: 22,
        user: 'deploy',
        deployTo: '/srv/app',
        proxyJump: undefined,
        sudo: false,
      });
      const kind = n % 100;
      statuses.push({
        name,
        dc: dcName,
        current: kind === 0 ? undefined : kind < 8 ? 'v41' : 'v42',
        releases: ['v41', 'v42'],
        last: undefined,
        revisions: [],
        lock: kind === 50 ? 'ci@runner (deploy D)' : undefined,
        error: kind === 0 ? 'cannot connect: connection timed out' : undefined,
      });
    }
    dcs.push({ name: dcName, hosts } as unknown as Datacenter);
  }
  const drift = statuses.filter((s) => s.current === 'v41').map((s) => s.name);
  const feed = new StatusFeed(async () => ({ hosts: statuses, expected: 'v42', drift }), 3_600_000);
  await feed.refresh(true);
  const empty = mkdtempSync(path.join(tmpdir(), 'pier-deploys-'));
  const server = new DashboardServer({
    app: 'big',
    selection: dcs,
    feed,
    deploys: new DeployFiles(empty, () => undefined),
  });
  const address = await server.listen('127.0.0.1', 0);
  const big = await launchChromium();
  try {
    const tab = await big.context.newPage();
    // Every host is on the page, one cell each, with its markers; how fast it draws is a
    // figure for a benchmark, not a pass/fail condition here (the time is printed).
    const started = Date.now();
    await tab.goto(`http://127.0.0.1:${address.port}/`);
    await tab.evaluate('new Promise((resolve) => requestAnimationFrame(() => resolve(null)))');
    const ms = Date.now() - started;
    assert.equal(await tab.locator('#fleet .g a').count(), 5000);
    assert.equal(await tab.locator('#fleet .g a.u').count(), 50);
    assert.equal(await tab.locator('#fleet .g a.d').count(), 350);
    process.stdout.write(`# 5,000-host page: loaded and drawn in ${ms} ms\n`);
  } finally {
    await big.close();
    await server.close();
    await feed.stop();
    rmSync(empty, { recursive: true, force: true });
  }
});
