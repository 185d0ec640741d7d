// The last step of staging a host, run at every deploy (also when the release was already
// there): shared paths checked and linked into the release, and the release's environment
// written from stdin (commands/shared.ts, commands/environment.ts). Skipped when the fleet has
// neither shared paths nor an environment.
import { dropInText, envFileText, hasEnvironment, sharedEnvFile } from '../commands/environment.js';
import { layoutOf } from '../commands/layout.js';
import { configureRelease, missingShared } from '../commands/shared.js';
import { FleetError } from '../errors.js';
import type { Fleet, Host } from '../inventory/inventory.js';
import type { Connection } from '../ssh/connection.js';
import { HostError, RemoteCommandError } from '../ssh/errors.js';

export async function configureStep(
  connection: Connection,
  host: Host,
  fleet: Fleet,
  version: string,
): Promise<void> {
  const { service, shared } = fleet;
  const withEnv = hasEnvironment(service);
  if (!withEnv && shared.dirs.length === 0 && shared.files.length === 0) return;
  const values = fleet.env.values;
  if (values === undefined) {
    throw new FleetError('FLEET_INTERNAL', 'service.env was not resolved on the controller before staging');
  }
  const layout = layoutOf(host.deployTo);
  const dropIn =
    service.manager === 'systemd' && withEnv
      ? dropInText(layout, sharedEnvFile(layout, service.env_file))
      : undefined;
  const result = await connection.exec(configureRelease(layout, version, shared, dropIn), {
    stdin: Buffer.from(envFileText(values), 'utf8'),
  });
  const missing = missingShared(result.stdout);
  if (missing.length > 0) {
    const names = missing.map((file) => file.slice(layout.shared.length + 1));
    throw new HostError(
      'FLEET_SHARED_MISSING',
      `shared file${missing.length > 1 ? 's' : ''} ${names.join(', ')} missing: put ${missing.length > 1 ? 'them' : 'it'} at ${missing.join(', ')}`,
      {
        hint: 'shared files are not part of a release: place them on each host once (they stay across releases), then deploy again',
      },
    );
  }
  if (result.code !== 0) {
    throw new RemoteCommandError(
      'linking shared paths and writing the environment',
      result.code,
      result.stderr || result.stdout,
    );
  }
}
