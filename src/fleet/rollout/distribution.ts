// Distribution: getting the artifact onto every host, ahead of activation. In `relay` mode the
// first host of a data center that needs it gets it from the controller and then serves it to
// the others over the data center's network (commands/relay.ts); if the relay cannot be set up,
// the next host tries, and a host whose pull fails falls back to a direct upload.
import type { ClientChannel } from 'ssh2';
import { layoutOf } from '../commands/layout.js';
import { dropRelayCopy, serveArtifact } from '../commands/relay.js';
import { scriptOutput } from '../commands/shell.js';
import type { RelayAddress } from '../commands/stage.js';
import type { Fleet, Host } from '../inventory/inventory.js';
import { Limiter } from '../limiter.js';
import type { DeployLocks } from '../lock.js';
import { redactor } from '../secrets.js';
import type { Connection } from '../ssh/connection.js';
import type { ConnectionPool } from '../ssh/connection-pool.js';
import { configureStep } from './configure-step.js';
import { runHooks } from './hook-steps.js';
import { type Artifact, probeStage, releaseNode, stageRelease } from './host-steps.js';

interface Relay {
  host: Host;
  address: RelayAddress;
  channel: ClientChannel;
}

export class Skipped extends Error {
  constructor() {
    super('not started: the rollout was halted');
  }
}

export class Distribution {
  private readonly staged = new Map<string, Promise<void>>();
  private readonly relays = new Map<string, Promise<Relay | undefined>>();
  private readonly limiter: Limiter;
  /** Hosts whose upload came straight from the controller (the WAN crossings). */
  directUploads = 0;
  private readonly redact: (text: string) => string;

  constructor(
    private readonly fleet: Fleet,
    private readonly pool: ConnectionPool,
    private readonly version: string,
    private readonly artifact: Artifact,
    private readonly halted: () => boolean,
    private readonly events: {
      staging: (host: Host) => void;
      staged: (host: Host) => void;
      failed: (host: Host, err: unknown) => void;
    },
    /** This deploy's locks: each host's is taken in its first round trip (probeStage). */
    private readonly locks: DeployLocks | undefined,
    /** Hosts staged ahead of activation at most (see `prefetch`). */
    private readonly lead: number,
  ) {
    this.limiter = new Limiter(fleet.rollout.stage_window);
    this.redact = redactor(fleet.env);
  }

  /**
   * Stages `hosts` in this order ahead of activation, `stage_window` at a time and at most
   * `lead` hosts ahead (staged or staging, not yet taken by activation): a host staged far
   * ahead would wait with its connection idle, and under `ssh.max_open` that connection is
   * closed for another host's, so activating it would cost a second handshake.
   */
  prefetch(hosts: readonly Host[]): void {
    this.queue = [...hosts];
    this.pump();
  }

  /** Activation took the host over (or it failed): its place ahead goes to the next one. */
  taken(host: Host): void {
    if (this.ahead.delete(host.name)) this.pump();
  }

  private queue: Host[] = [];
  private readonly ahead = new Set<string>();

  private pump(): void {
    while (this.ahead.size < this.lead && this.queue.length > 0 && !this.halted()) {
      const host = this.queue.shift() as Host;
      if (this.staged.has(host.name)) continue;
      this.ahead.add(host.name);
      this.ensure(host).catch(() => this.taken(host));
    }
  }

  /** Resolves when the host has the release unpacked. */
  ensure(host: Host): Promise<void> {
    let pending = this.staged.get(host.name);
    if (!pending) {
      pending = this.limiter
        .run(() => this.stage(host))
        .then(
          () => this.events.staged(host),
          (err: unknown) => {
            if (!(err instanceof Skipped)) this.events.failed(host, err);
            throw err;
          },
        );
      this.staged.set(host.name, pending);
    }
    return pending;
  }

  private async stage(host: Host): Promise<void> {
    if (this.halted()) throw new Skipped();
    this.events.staging(host);
    const connection = await this.pool.connection(host);
    try {
      const { locks } = this;
      const lock = locks && {
        script: locks.takeScript(host),
        settle: (on: Connection, stdout: string) => locks.settle(on, host, stdout),
      };
      const probe = await probeStage(connection, host, this.version, this.artifact, lock);
      this.currents.set(host.name, probe.current);
      if (!probe.staged) await this.put(connection, host);
      // What lives beside the release, then the after_stage hooks (configure-step.ts, hook-steps.ts).
      await configureStep(connection, host, this.fleet, this.version);
      await runHooks(connection, host, this.fleet, this.version, 'after_stage', this.redact);
    } finally {
      this.pool.release(host);
    }
  }

  /**
   * What `current` pointed to on the host when it was staged (the release to return to), or
   * `null` when the host was not probed here (staged by an earlier run of a resumed deploy).
   */
  currentOf(host: Host): string | undefined | null {
    return this.currents.has(host.name) ? this.currents.get(host.name) : null;
  }

  private readonly currents = new Map<string, string | undefined>();

  private async put(connection: Connection, host: Host): Promise<void> {
    const useRelay =
      this.fleet.rollout.distribution === 'relay' &&
      (this.fleet.datacenters.find((dc) => dc.name === host.dc)?.hosts.length ?? 0) > 1;
    if (!useRelay) {
      this.directUploads++;
      await stageRelease(connection, host, this.version, this.artifact);
      return;
    }
    const relay = await this.relayFor(host);
    if (relay === 'self') return;
    if (relay) {
      try {
        await stageRelease(connection, host, this.version, this.artifact, { relay: relay.address });
        return;
      } catch {
        // The relay is gone or unreachable from here: the controller still has the artifact.
      }
    }
    this.directUploads++;
    await stageRelease(connection, host, this.version, this.artifact);
  }

  /** The data center's relay; 'self' when this host just became it (and is staged). */
  private async relayFor(host: Host): Promise<Relay | undefined | 'self'> {
    for (;;) {
      const existing = this.relays.get(host.dc);
      if (existing) {
        const relay = await existing;
        if (relay) return relay;
        // That host could not become the relay: the next host to get here tries, twice at most.
        if (this.relays.get(host.dc) === existing) this.relays.delete(host.dc);
        if ((this.relayFailures.get(host.dc) ?? 0) >= 2) return undefined;
        continue;
      }
      const attempt = this.becomeRelay(host);
      this.relays.set(
        host.dc,
        attempt.then(
          (relay) => {
            if (!relay) this.relayFailures.set(host.dc, (this.relayFailures.get(host.dc) ?? 0) + 1);
            return relay;
          },
          () => {
            this.relayFailures.set(host.dc, (this.relayFailures.get(host.dc) ?? 0) + 1);
            return undefined;
          },
        ),
      );
      // A failed upload is this host's own failure; the waiting hosts try again without it.
      await attempt;
      return 'self';
    }
  }

  private readonly relayFailures = new Map<string, number>();
  private readonly started: Relay[] = [];

  /** Uploads here, keeps the tarball and serves it; undefined when staged but unable to serve. */
  private async becomeRelay(host: Host): Promise<Relay | undefined> {
    const connection = await this.pool.connection(host);
    this.directUploads++;
    await stageRelease(connection, host, this.version, this.artifact, { keep: true });
    const layout = layoutOf(host.deployTo);
    // The relay's channel lives on this connection: it must outlast the pressure of the cap.
    this.pool.pin(host);
    try {
      const channel = await connection.open(
        serveArtifact(
          layout,
          this.artifact.sha256,
          host.internalAddress,
          releaseNode(host, this.version, this.artifact.runtime),
        ),
      );
      const port = await firstLine(channel);
      const relay = {
        host,
        address: { address: host.internalAddress, port: Number(port) },
        channel,
      };
      this.started.push(relay);
      return relay;
    } catch {
      this.pool.unpin(host);
      // Staged, but cannot serve (no node on the host?): the others fetch some other way.
      await connection.exec(dropRelayCopy(layout, this.artifact.sha256)).catch(() => {});
      return undefined;
    }
  }

  /** Stops the relays and removes their copies of the tarball. */
  async close(): Promise<void> {
    await Promise.allSettled(this.staged.values());
    for (const relay of this.started.splice(0)) {
      relay.channel.end();
      relay.channel.close();
      this.pool.unpin(relay.host);
      const connection = await this.pool.connection(relay.host).catch(() => undefined);
      await connection
        ?.exec(dropRelayCopy(layoutOf(relay.host.deployTo), this.artifact.sha256))
        .catch(() => {});
    }
    this.relays.clear();
  }
}

function firstLine(channel: ClientChannel): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('the relay did not start')), 10_000);
    channel.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      // The port is the first line the relay itself prints, after the envelope's marker.
      const own = scriptOutput(text);
      const end = own.indexOf('\n');
      if (end !== -1) {
        clearTimeout(timer);
        resolve(own.slice(0, end).trim());
      }
    });
    channel.on('close', () => {
      clearTimeout(timer);
      reject(new Error('the relay exited'));
    });
  });
}
