// Retention on real hosts (network namespaces with sshd): releases are kept by use, not by
// arrival, so a release staged ahead of a deploy that stopped never pushes out the rollback target.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { fetchText, pier } from './helpers/fleet-cli.js';
import { createTestFleet, leftovers, type TestFleet } from './helpers/fleet-hosts.js';

let fleet: TestFleet;
let app: AppRepo;

before(async () => {
  fleet = await createTestFleet({ ams: 3 });
  app = createAppRepo();
  writeFileSync(path.join(app.dir, 'deploy', 'fleet.yml'), fleet.fleetYaml({ keepReleases: 2 }));
});

after(async () => {
  await fleet?.cleanup();
  app?.cleanup();
  if (fleet) assert.deepEqual(leftovers(fleet), []);
});

const answer = (name: string) => fetchText(`http://${fleet.host(name).address}:8080/`);
const releasesOn = (name: string) =>
  readdirSync(path.join(fleet.host(name).opt as string, 'hello', 'releases')).sort();
const currentOf = (name: string) =>
  readlinkSync(path.join(fleet.host(name).opt as string, 'hello', 'current'));

async function release(version: string, healthy = true): Promise<void> {
  app.commit(version, { healthy });
  const result = await pier(app.dir, ['release', version]);
  assert.equal(result.code, 0, result.stderr);
}

async function deploy(version: string): Promise<string> {
  const result = await pier(app.dir, ['deploy', version]);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

test('a release staged by a deploy whose canary failed goes before the rollback target', {
  timeout: 120_000,
}, async () => {
  await release('v1');
  await deploy('v1');
  await release('v2');
  await deploy('v2');

  // v3 fails its canary (ams-1) while distribution has already staged it on ams-2 and ams-3.
  await release('v3', false);
  const failed = await pier(app.dir, ['deploy', 'v3']);
  assert.equal(failed.code, 1, failed.stdout);
  assert.match(failed.stdout, /canary ams-1 failed/);
  for (const name of ['ams-2', 'ams-3']) {
    assert.deepEqual(releasesOn(name), ['v1', 'v2', 'v3'], `${name}: v3 staged, never activated`);
    assert.equal(currentOf(name), 'releases/v2');
  }

  // keep_releases 2: current (v2) and the release it replaced as good (v1) stay; v3 never ran.
  const again = await deploy('v2');
  assert.match(again, /deploy v2: done, 3\/3 hosts healthy/);
  for (const name of ['ams-2', 'ams-3']) assert.deepEqual(releasesOn(name), ['v1', 'v2'], name);

  const back = await pier(app.dir, ['rollback', '--hosts', 'ams-2']);
  assert.equal(back.code, 0, `${back.stdout}\n${back.stderr}`);
  assert.doesNotMatch(back.stdout, /no earlier healthy release/);
  assert.equal(await answer('ams-2'), 'Hello! from v1', back.stdout);
  assert.equal(currentOf('ams-2'), 'releases/v1');
  assert.equal(await answer('ams-3'), 'Hello! from v2');
});
