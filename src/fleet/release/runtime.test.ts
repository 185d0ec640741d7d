// Whether a host's Node can load a release, from the line the stage probe printed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHostRuntime, type RuntimeInfo, runtimeProblem } from './runtime.js';

const built: RuntimeInfo = {
  node: 'v20.20.2',
  modules: '115',
  platform: 'linux',
  arch: 'x64',
  bundled: false,
};

test("uname's names become Node's; an older pier's cached line still reads", () => {
  assert.deepEqual(parseHostRuntime('v20.1.0 Linux x86_64\n'), {
    node: 'v20.1.0',
    platform: 'linux',
    arch: 'x64',
  });
  assert.deepEqual(parseHostRuntime('v22.3.0 Linux aarch64'), {
    node: 'v22.3.0',
    platform: 'linux',
    arch: 'arm64',
  });
  assert.deepEqual(parseHostRuntime('v22.3.0 Linux mips'), {
    node: 'v22.3.0',
    platform: 'linux',
    arch: 'mips',
  });
  assert.deepEqual(parseHostRuntime('v18.20.4 108 linux x64'), {
    node: 'v18.20.4',
    modules: '108',
    platform: 'linux',
    arch: 'x64',
  });
  assert.equal(parseHostRuntime(''), undefined);
  assert.equal(parseHostRuntime('sh: node: not found'), undefined);
});

test('the same major version, platform and arch can load the release; anything else is named', () => {
  assert.equal(runtimeProblem(built, 'v20.1.0 Linux x86_64'), undefined);
  assert.equal(runtimeProblem(built, 'v20.20.2 115 linux x64'), undefined);
  assert.equal(
    runtimeProblem(built, 'v18.20.4 Linux x86_64'),
    "the host's Node v18.20.4 (linux-x64) cannot load this release's native addons, built with Node v20.20.2 (ABI 115, linux-x64)",
  );
  assert.equal(
    runtimeProblem(built, 'v18.20.4 108 linux x64'),
    "the host's Node v18.20.4 (ABI 108, linux-x64) cannot load this release's native addons, built with Node v20.20.2 (ABI 115, linux-x64)",
  );
  assert.match(runtimeProblem(built, 'v20.1.0 Linux aarch64') ?? '', /v20\.1\.0 \(linux-arm64\)/);
  assert.equal(
    runtimeProblem(built, ''),
    "no node on the host's PATH (the release was built with Node v20.20.2)",
  );
});
