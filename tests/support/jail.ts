// Shared fixtures for tests that build real jails.
import { JailHost } from '../../src/jail/host.js';
import { DEFAULT_LIMITS } from '../../src/jail/limits.js';
import { buildShellProfile, type ShellProfile } from '../../src/jail/profiles/shell.js';
import type { JailLimits } from '../../src/jail/spec.js';

export const TEST_STATE_DIR = process.env.CONFINE_TEST_STATE_DIR ?? '/tmp/confine-test-state';
export const TEST_UID_BASE = 1_950_100_000;

let host: Promise<JailHost> | undefined;

export function testHost(): Promise<JailHost> {
  host ??= JailHost.open({ stateDir: TEST_STATE_DIR, uidBase: TEST_UID_BASE, uidCount: 512 });
  return host;
}

export async function testShellProfile(programs: readonly string[] = []): Promise<ShellProfile> {
  return buildShellProfile(programs, (await testHost()).programSource);
}

export function limits(overrides: Partial<JailLimits> = {}): JailLimits {
  return { ...DEFAULT_LIMITS, wallTimeMs: 10_000, ...overrides };
}
