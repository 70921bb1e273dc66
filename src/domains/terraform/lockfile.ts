// A service-owned dependency lock file, derived once from the read-only provider mirror. It pins each
// mirrored provider's single version and records no hashes, and init runs with -lockfile=readonly:
// terraform then skips re-hashing the ~700 MB provider package at every plan and show (it verifies a
// cached package only against hashes the lock lists). That check guards a writable plugin cache; here
// every provider symlink points into the root-owned read-only mirror, TF_DATA_DIR is fresh per request
// and a tenant's own `.terraform/` and lock file never arrive (intake), so it protects nothing (row 5, 24).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

const NAME = /^[A-Za-z0-9._-]+$/;

async function subdirectories(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && NAME.test(e.name)).map((e) => e.name).sort();
}

/**
 * Provider address -> version for an unpacked mirror (`host/namespace/type/version/os_arch/`). A provider
 * with several versions is left out: init chooses among them and writes the lock itself.
 */
export async function mirrorVersions(mirror: string): Promise<Map<string, string>> {
  const versions = new Map<string, string>();
  if (mirror === '') return versions;
  for (const hostname of await subdirectories(mirror)) {
    for (const namespace of await subdirectories(join(mirror, hostname))) {
      for (const type of await subdirectories(join(mirror, hostname, namespace))) {
        const found = await subdirectories(join(mirror, hostname, namespace, type));
        if (found.length === 1) versions.set(`${hostname}/${namespace}/${type}`.toLowerCase(), found[0]!);
      }
    }
  }
  return versions;
}

/**
 * The lock for exactly the providers the configuration uses (init -lockfile=readonly refuses a lock with
 * more or fewer entries), or undefined when one of them is not a single-version mirror entry.
 */
export function lockFileFor(used: ReadonlySet<string>, mirror: ReadonlyMap<string, string>): string | undefined {
  if (used.size === 0) return undefined;
  const blocks: string[] = [];
  for (const address of [...used].sort()) {
    const version = mirror.get(address);
    if (version === undefined) return undefined;
    blocks.push(`provider "${address}" {\n  version = "${version}"\n}\n`);
  }
  return `# Service-owned: pins the provider mirror's versions without hashes (see confine lockfile.ts).\n${blocks.join('\n')}`;
}

export const LOCK_FILE_NAME = '.terraform.lock.hcl';
