// Static policy over the modules terraform would load: the working directory, then every local module
// it calls (transitively). Findings name rule, file and line; configuration decides block or warn.
import { posix } from 'node:path';
import type { SeedFile } from '../../../jail/workspace.js';
import { DomainError } from '../../errors.js';
import type { Finding } from '../types.js';
import { isConfigFile, labelled, parseConfigFile, stringAttr, type ParsedFile } from './parse.js';
import { checkFile, locate, requiredProviders, type ProviderSources, type RawFinding, type RuleId } from './rules.js';

export { RULES, type RuleId } from './rules.js';

export interface PolicyOptions {
  allowedProviders: readonly string[];
  /** Rules that only warn; every other rule blocks. */
  warnRules: readonly string[];
}

export interface PolicyResult {
  findings: Finding[];
  /** Provider addresses the configuration uses (explicitly or implied by resource types), builtin excluded. */
  providers: Set<string>;
}

export async function evaluatePolicy(files: readonly SeedFile[], workingDir: string, options: PolicyOptions): Promise<PolicyResult> {
  const findings: Finding[] = [];
  const used = new Set<string>();
  const add = (file: ParsedFile, raw: RawFinding): void => {
    findings.push({ ...locate(file, raw), severity: options.warnRules.includes(raw.rule) ? 'warn' : 'block' });
  };
  const visited = new Set<string>();
  const queue = [workingDir];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    if (visited.has(dir)) continue;
    visited.add(dir);
    const parsed: ParsedFile[] = [];
    for (const file of files) {
      if (posix.dirname(file.path) !== (dir === '' ? '.' : dir) || !isConfigFile(file.path)) continue;
      parsed.push(await parseConfigFile(file.path, decodeUtf8(file)));
    }
    const sources: ProviderSources = new Map();
    for (const file of parsed) for (const raw of requiredProviders(file, sources, options.allowedProviders, used)) add(file, raw);
    for (const file of parsed) {
      for (const raw of checkFile(file, sources, options.allowedProviders, used)) add(file, raw);
      for (const [name, bodies] of labelled(file.body.module)) {
        for (const body of bodies) {
          const target = moduleTarget(dir, body.source === undefined ? undefined : stringAttr(body, 'source'));
          if (typeof target === 'string') queue.push(target);
          else add(file, { rule: target.rule, message: `module "${name}": ${target.message}`, locator: [{ block: 'module', labels: [name] }, { attr: 'source' }] });
        }
      }
    }
  }
  // Reading order: by file, then line (findings without a line last in their file).
  findings.sort((a, b) => a.file.localeCompare(b.file) || (a.line ?? Infinity) - (b.line ?? Infinity));
  used.delete('terraform.io/builtin/terraform');
  return { findings, providers: used };
}

/** Terraform reads configuration as UTF-8 and refuses anything else; so does the policy, by name. */
function decodeUtf8(file: SeedFile): string {
  if (typeof file.content === 'string') return file.content;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(file.content);
  } catch {
    throw new DomainError('validation_error', `${file.path} is not valid UTF-8`, `${file.path}: configuration files must be UTF-8 text`);
  }
}

/** A local module's directory inside the upload, or why its source is not acceptable. */
function moduleTarget(dir: string, source: string | undefined): string | { rule: RuleId; message: string } {
  if (source === undefined) return { rule: 'module_source_remote', message: 'source must be a literal local path' };
  if (source.startsWith('/')) return { rule: 'module_source_escapes', message: `source "${source}" is an absolute path outside the upload` };
  if (!source.startsWith('./') && !source.startsWith('../')) {
    return { rule: 'module_source_remote', message: `source "${source}" is not a local path (registry, git, http, s3 and gcs sources are not allowed)` };
  }
  const target = posix.normalize(posix.join(dir === '' ? '.' : dir, source));
  if (target === '..' || target.startsWith('../')) return { rule: 'module_source_escapes', message: `source "${source}" leaves the upload` };
  return target === '.' ? '' : target.replace(/\/$/, '');
}
