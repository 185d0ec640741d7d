// The states one host moves through during a deploy. Journaled ones survive the controller.
//   pending → staging → staged → activating → healthy
//   any → failed;  activating/healthy → rolling-back → rolled-back;  pending → skipped (halted)

export type HostState =
  | 'pending'
  | 'staging'
  | 'staged'
  | 'activating'
  | 'healthy'
  | 'failed'
  | 'rolling-back'
  | 'rolled-back'
  | 'skipped';

export const hostStates: readonly HostState[] = [
  'pending',
  'staging',
  'staged',
  'activating',
  'healthy',
  'failed',
  'rolling-back',
  'rolled-back',
  'skipped',
];

/** States after which the host may be running the new release (a halt must roll it back). */
export function mayRunNew(state: HostState): boolean {
  return state === 'activating' || state === 'healthy';
}
