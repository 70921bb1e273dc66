// Shared by the deployment-file tests: the documented privilege list (container/privileges.sh is the one
// place it is written; the container leg measures it), file reading, and podman availability.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const IMAGE = 'localhost/confine:latest';

export function repoFile(path: string): string {
  return readFileSync(`${REPO}${path}`, 'utf8');
}

/** `CAPABILITIES=(SYS_ADMIN SETUID ...)` in container/privileges.sh, sorted. */
export function documentedCapabilities(): string[] {
  const match = /^CAPABILITIES=\(([^)]*)\)/m.exec(repoFile('container/privileges.sh'));
  if (!match) throw new Error('container/privileges.sh has no CAPABILITIES=(...) line');
  return match[1]!.trim().split(/\s+/).sort();
}

/** Bit numbers from linux/capability.h for the capabilities the documented list may hold. */
const CAP_BITS: Record<string, number> = { CHOWN: 0, DAC_OVERRIDE: 1, FOWNER: 3, KILL: 5, SETGID: 6, SETUID: 7, SETPCAP: 8, SYS_ADMIN: 21 };

export function capabilityMask(names: readonly string[]): bigint {
  return names.reduce((mask, name) => {
    const bit = CAP_BITS[name];
    if (bit === undefined) throw new Error(`no bit number for ${name}: add it to CAP_BITS`);
    return mask | (1n << BigInt(bit));
  }, 0n);
}

export type Yaml = Record<string, unknown>;

/** Every document of a YAML file, each parsed strictly (a syntax error or duplicate key throws). */
export function yamlDocuments(path: string): Yaml[] {
  return parseAllDocuments(repoFile(path), { uniqueKeys: true }).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as Yaml;
  }).filter((doc) => doc !== null);
}

export interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(file: string, args: readonly string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<Exec> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      // A program that could not start (ENOENT) or was killed says so through stderr.
      const why = error ? `${error.message}${error.signal ? ` (killed by ${error.signal})` : ''}` : '';
      resolve({ code, stdout, stderr: stderr || why });
    });
  });
}

/** The podman settings this kind of host needs (container/containers.conf: runc, rlimits). */
export const PODMAN_ENV = { CONTAINERS_CONF: `${REPO}container/containers.conf` };

/** Why a podman test cannot run here, or null when it can (root, podman working, the image built). */
export async function podmanUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not root (rootful podman: the service is root in its container)';
  const info = await run('podman', ['info', '--format', '{{.Host.OCIRuntime.Name}}'], PODMAN_ENV);
  if (info.code !== 0) return `podman cannot work here: ${(info.stderr || info.stdout).trim().split('\n').pop() ?? ''}`;
  const image = await run('podman', ['image', 'exists', IMAGE], PODMAN_ENV);
  if (image.code !== 0) return `the image ${IMAGE} is not built (make test-container builds it)`;
  return null;
}
