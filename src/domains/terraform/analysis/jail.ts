// The analysis jail's filesystem: node and its libraries (one program tree, as shell profiles have), and a
// tree holding the service's compiled domain code and exactly the packages it imports, read-only. No network
// (the `node` seccomp profile has no sockets), no /proc, /sys or /dev, no shell.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { materialize, type TreeFile } from '../../../jail/profiles/program-tree.js';
import { buildExactProfile } from '../../../jail/profiles/shell.js';
import type { ProgramSource } from '../../../jail/profiles/host-programs.js';
import type { Mount } from '../../../jail/spec.js';

/** Where the service's code appears inside the jail. */
export const CODE_IN_JAIL = '/opt/confine';
export const ENTRY_IN_JAIL = `${CODE_IN_JAIL}/dist/domains/terraform/analysis/main.js`;
export const NODE_IN_JAIL = '/usr/bin/node';
/** The packages the analysis code imports (their own dependencies are followed). */
const PACKAGES = ['@cdktf/hcl2json', 'jsonc-parser'];

/** The repository root: this file is src/domains/terraform/analysis/jail.ts or its dist/ twin. */
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface AnalysisProfile {
  mounts: Mount[];
}

export async function buildAnalysisProfile(source: ProgramSource): Promise<AnalysisProfile> {
  assertBuilt();
  const node = await buildExactProfile(['node'], source);
  // The code the jail runs is copied once into a content-addressed tree in the state directory: the jail's
  // uid may not be able to reach the checkout itself (a clone below a 0700 home), and a tree holds exactly
  // the compiled domain code and the packages it imports, nothing else of the repository.
  const files: TreeFile[] = [{ relative: 'package.json', hostPath: join(REPO_ROOT, 'package.json') }];
  for (const dir of [join(REPO_ROOT, 'dist', 'domains'), ...packageClosure(PACKAGES)]) {
    for (const path of filesBelow(dir)) files.push({ relative: relative(REPO_ROOT, path), hostPath: path });
  }
  const tree = await materialize(files, source.treesDir);
  return { mounts: [...node.mounts, { kind: 'ro-bind', source: tree, target: CODE_IN_JAIL }] };
}

/** Regular files below dir (source maps left out: the jail never needs them). */
function filesBelow(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesBelow(path));
    else if (entry.isFile() && !entry.name.endsWith('.map')) out.push(path);
  }
  return out;
}

/** Directories of `names` and of everything they depend on, as installed in the repository. */
export function packageClosure(names: readonly string[]): string[] {
  const found = new Set<string>();
  const queue = [...names];
  while (queue.length > 0) {
    const name = queue.shift()!;
    const dir = join(REPO_ROOT, 'node_modules', name);
    if (found.has(dir)) continue;
    if (!existsSync(join(dir, 'package.json'))) throw new Error(`analysis jail: package ${name} is not installed (run npm install)`);
    found.add(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    queue.push(...Object.keys(manifest.dependencies ?? {}));
  }
  return [...found].sort();
}

/**
 * The jail runs the compiled code in dist/ (all of dist/domains is copied in). When the service itself runs
 * from the TypeScript sources (tests), an edit not yet built would make the jail run old code: refuse that
 * loudly. Every source under src/domains is compared with its own compiled twin, so an edit to code the
 * analysis imports from outside analysis/ and policy/ (summary.ts, errors.ts) is caught as well.
 */
function assertBuilt(): void {
  const entry = join(REPO_ROOT, 'dist/domains/terraform/analysis/main.js');
  if (!existsSync(entry)) throw new Error(`analysis jail: ${entry} is missing (run npm run build)`);
  if (!fileURLToPath(import.meta.url).includes('/src/')) return;
  const srcRoot = join(REPO_ROOT, 'src');
  for (const source of filesBelow(join(srcRoot, 'domains'))) {
    if (!source.endsWith('.ts') || source.endsWith('.d.ts')) continue;
    const built = join(REPO_ROOT, 'dist', relative(srcRoot, source)).replace(/\.ts$/, '.js');
    if (!existsSync(built) || statSync(source).mtimeMs > statSync(built).mtimeMs) {
      throw new Error(`analysis jail: ${relative(REPO_ROOT, source)} is newer than dist/ (run npm run build)`);
    }
  }
}
