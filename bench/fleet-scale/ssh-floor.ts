// The floor for a deploy to N hosts: the least any SSH deployer must do, with the library pier
// uses (ssh2) at the same concurrency. Per host one handshake (host key checked, key auth), one
// `true` run through the login shell, and a clean disconnect; `concurrency` hosts at a time.
// The same loop runs the programs floor (programs-floor.ts): one script per host instead of `true`.
import { Client } from 'ssh2';
import type { SocketTotals } from './socket-meter.js';
import { meterSockets } from './socket-meter.js';

export interface FloorTarget {
  address: string;
  port: number;
  user: string;
  privateKey: Buffer;
  /** The host key blob every host must present. */
  hostKey: Buffer;
  /** What the host runs through its login shell; default `true`. */
  command?: string;
}

export interface FloorResult {
  wallMs: number;
  hosts: number;
  concurrency: number;
  failures: string[];
  sockets: SocketTotals;
}

function once(target: FloorTarget, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let failure: Error | undefined;
    let stderr = '';
    client.once('ready', () => {
      client.exec(target.command ?? 'true', (err, channel) => {
        if (err) {
          failure = err;
          client.end();
          return;
        }
        channel.once('exit', (code: number | null) => {
          if (code !== 0) failure = new Error(`${target.command ?? 'true'} exited ${code}: ${stderr.trim()}`);
        });
        channel.once('close', () => client.end());
        channel.resume();
        channel.stderr.on('data', (chunk: Buffer) => {
          if (stderr.length < 2000) stderr += chunk.toString();
        });
      });
    });
    client.on('error', (err) => {
      failure ??= err;
    });
    client.once('close', () => (failure ? reject(failure) : resolve()));
    client.connect({
      host: target.address,
      port: target.port,
      username: target.user,
      privateKey: target.privateKey,
      readyTimeout: timeoutMs,
      algorithms: { serverHostKey: ['ssh-ed25519'] },
      hostVerifier: (key: Buffer) => key.equals(target.hostKey),
    });
  });
}

export async function sshFloor(targets: readonly FloorTarget[], concurrency: number): Promise<FloorResult> {
  const read = meterSockets();
  const failures: string[] = [];
  let next = 0;
  const start = process.hrtime.bigint();
  const worker = async () => {
    for (;;) {
      const target = targets[next++];
      if (!target) return;
      await once(target, 10_000).catch((err: Error) => {
        failures.push(`${target.address}: ${err.message}`);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  return { wallMs, hosts: targets.length, concurrency, failures, sockets: read() };
}
