// Locates the static attack helper (tests/attack/attack.c), compiling it when the source is newer than
// the binary. Static, so the jail needs no libraries for it; bound read-only at /opt/attack/attack (the jail's
// /usr is the profile's read-only program tree, which has no room for extra mounts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JailSpec, Mount } from '../../src/jail/spec.js';

const ATTACK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../attack');
export const ATTACK_SOURCE = join(ATTACK_DIR, 'attack.c');
export const ATTACK_BINARY = join(ATTACK_DIR, 'bin', 'attack');
export const ATTACK_DIR_IN_JAIL = '/opt/attack';
export const ATTACK_IN_JAIL = `${ATTACK_DIR_IN_JAIL}/attack`;

/** Builds the helper if needed and returns its host path. Safe when several test workers race. */
export function attackBinary(): string {
  if (existsSync(ATTACK_BINARY) && statSync(ATTACK_BINARY).mtimeMs >= statSync(ATTACK_SOURCE).mtimeMs) return ATTACK_BINARY;
  mkdirSync(dirname(ATTACK_BINARY), { recursive: true });
  const temporary = `${ATTACK_BINARY}.${process.pid}.tmp`;
  execFileSync('cc', ['-static', '-O2', '-Wall', '-o', temporary, ATTACK_SOURCE], { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(temporary, ATTACK_BINARY); // atomic: a racing worker never runs a half-written binary
  return ATTACK_BINARY;
}

/** The extraMounts entry that puts the helper at /opt/attack/attack inside a shell jail. */
export function attackMount(source = attackBinary(), target = ATTACK_IN_JAIL): Mount {
  return { kind: 'ro-bind', source, target };
}

/** Parses the helper's `key=value` output line into a record. */
export function parseAttackLine(stdout: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of stdout.matchAll(/(\w+)=(\S*)/g)) fields[match[1]!] = match[2]!;
  return fields;
}

/** The spec with the helper's directory on PATH, so scripts can call `attack` by name. */
export function withAttackOnPath(spec: JailSpec): JailSpec {
  return { ...spec, env: { ...spec.env, PATH: `${spec.env.PATH ?? '/usr/bin'}:${ATTACK_DIR_IN_JAIL}` } };
}
