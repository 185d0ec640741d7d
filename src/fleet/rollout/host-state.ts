// The states one host moves through during a deploy. Journaled ones survive the controller.
//   pending → staging → staged → activating → healthy
//   any → failed;  activating/healthy → rolling-back → rolled-back;  pending → skipped (halted)
//   unchanged: a rollback left the host as it was (the deploy it undoes never switched it)

export type HostState =
  | 'pending'
  | 'staging'
  | 'staged'
  | 'activating'
  | 'healthy'
  | 'failed'
  | 'rolling-back'
  | 'rolled-back'
  | 'skipped'
  | 'unchanged';

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
  'unchanged',
];

/** States after which the host may be running the new release (a halt must roll it back). */
export function mayRunNew(state: HostState): boolean {
  return state === 'activating' || state === 'healthy';
}
