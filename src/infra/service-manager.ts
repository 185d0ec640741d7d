// pier serve under a service manager: the master's lifecycle hooks become sd_notify messages,
// socket activation hands over the listening descriptors, and the workers get an environment
// without the variables systemd meant for the master alone (so app code cannot speak for
// the service). Built from the environment the CLI passes in; a no-op outside systemd.
import { systemdOnlyEnvKeys } from './notify-message.js';
import { createNotifier, type Notifier } from './sd-notify.js';
import { type ActivatedSocket, activatedSockets } from './socket-activation.js';

/** The shape of the master's hooks (src/server/master/master.ts MasterHooks). */
export interface LifecycleHooks {
  ready(): void;
  reloading(): void;
  stopping(): void;
  status(text: string): void;
}

export interface ServiceManager {
  hooks: LifecycleHooks;
  /** Descriptors systemd passed to this process (empty when none, or not for us). */
  activated: ActivatedSocket[];
  /** The environment for the workers. */
  workerEnv: Record<string, string | undefined>;
  notifier: Notifier;
  /** Stop the watchdog and close the notify socket once queued messages are out. */
  close(): void;
}

export function connectServiceManager(options: {
  env: Record<string, string | undefined>;
  pid: number;
  log: (line: string) => void;
}): ServiceManager {
  const activation = activatedSockets(options.env, options.pid);
  if (activation.notice) options.log(`socket activation: ${activation.notice}`);
  const notifier = createNotifier(options);
  let lastStatus: string | undefined;
  const hooks: LifecycleHooks = {
    // MAINPID with READY keeps systemd's idea of the main pid right even when the message
    // comes through the systemd-notify fallback, from a pid of its own.
    ready: () => void notifier.send({ READY: 1, MAINPID: options.pid }),
    reloading: () => void notifier.reloading(),
    stopping: () => void notifier.stopping(),
    status(text) {
      // The master reports every second; systemd only needs to hear about changes.
      if (text === lastStatus) return;
      lastStatus = text;
      void notifier.status(text);
    },
  };
  notifier.startWatchdog();
  const workerEnv = { ...options.env };
  for (const key of systemdOnlyEnvKeys) delete workerEnv[key];
  return { hooks, activated: activation.sockets, workerEnv, notifier, close: () => notifier.close() };
}
