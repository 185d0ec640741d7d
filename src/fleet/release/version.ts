// Version names: they become git tags, directory names and arguments on every host, so they are
// checked once at the edge (before any command runs) and trusted afterwards.
import { FleetError } from '../errors.js';

const versionPattern = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

export function isVersion(text: string): boolean {
  return versionPattern.test(text) && !text.includes('..') && !text.endsWith('.lock');
}

export function checkVersion(text: string): string {
  if (!isVersion(text)) {
    throw new FleetError('FLEET_BAD_VERSION', `invalid version ${JSON.stringify(text)}`, {
      hint: 'a version is 1-64 letters, digits, ".", "_", "+" or "-", starting with a letter or digit (e.g. v2.0)',
      exitCode: 2,
    });
  }
  return text;
}
