// The static policy's rules over one parsed module. Defense in depth only (the jail is the boundary):
// they give an early, named reason for what the jail would contain anyway. Each rule names its threat row.
import type { Finding } from '../types.js';
import { findLine, type Locator } from './lines.js';
import { blocks, labelled, stringAttr, type Body, type ParsedFile } from './parse.js';

export const RULES = {
  provisioner: 'provisioners run programs at apply time (threat row 20)',
  data_external: 'data "external" runs a program (threat row 1)',
  data_http: 'data "http" reaches the network (threat row 2)',
  remote_state: 'terraform_remote_state reads other state (threat row 17)',
  provider_not_allowed: 'provider outside the allowlist (threat rows 1-4)',
  backend: 'backend blocks are ignored and not allowed (threat row 18)',
  cloud: 'cloud blocks are not allowed (threat row 18)',
  module_source_remote: 'module sources must be local paths (threat rows 9-12)',
  module_source_escapes: 'local module source leaves the upload (threat row 13)',
  provider_argument: 'provider argument redirects traffic or sources credentials (threat row 21)',
} as const;
export type RuleId = keyof typeof RULES;

/** aws provider arguments that send requests (and signatures) elsewhere or read credentials from files. */
export const AWS_RISKY_ARGUMENTS = [
  'endpoints', 'shared_credentials_files', 'shared_config_files', 'profile', 'assume_role',
  'assume_role_with_web_identity', 'custom_ca_bundle', 'http_proxy', 'https_proxy',
  'ec2_metadata_service_endpoint', 'sts_region',
] as const;

export interface RawFinding {
  rule: RuleId;
  message: string;
  locator: Locator;
  /** Known directly (e.g. from a regex match), skipping the header scan. */
  line?: number;
}

/** Local provider name -> source address, from `required_providers`. */
export type ProviderSources = Map<string, string>;

/** Records each `required_providers` entry; returns findings for the ones outside the allowlist. */
export function requiredProviders(file: ParsedFile, into: ProviderSources, allowed: readonly string[], used: Set<string>): RawFinding[] {
  const out: RawFinding[] = [];
  for (const terraform of blocks(file.body.terraform)) {
    for (const required of blocks(terraform.required_providers)) {
      for (const [local, spec] of Object.entries(required)) {
        const source = typeof spec === 'object' && spec !== null && !Array.isArray(spec) ? (spec as Body).source : undefined;
        const address = typeof source === 'string' ? source : local;
        into.set(local, address);
        const qualified = qualifySource(address);
        used.add(qualified);
        if (!providerAllowed(qualified, allowed)) {
          out.push({ rule: 'provider_not_allowed', message: `required provider "${local}" (${qualified}) is not allowed`, locator: [{ block: 'required_providers' }, { attr: local }] });
        }
      }
    }
  }
  return out;
}

/** `aws` / `hashicorp/aws` / `registry.terraform.io/hashicorp/aws` -> the fully qualified address. */
export function qualifySource(source: string): string {
  const parts = source.trim().toLowerCase().split('/');
  if (parts.length === 1) return parts[0] === 'terraform' ? 'terraform.io/builtin/terraform' : `registry.terraform.io/hashicorp/${parts[0]}`;
  if (parts.length === 2) return `registry.terraform.io/${parts[0]}/${parts[1]}`;
  return parts.join('/');
}

export function providerAllowed(address: string, allowed: readonly string[]): boolean {
  if (address === 'terraform.io/builtin/terraform') return true;
  return allowed.some((name) => address === `registry.terraform.io/hashicorp/${name.toLowerCase()}`);
}

/** `used` collects every provider address the file needs (terraform's own set, for the lock file). */
export function checkFile(file: ParsedFile, sources: ProviderSources, allowed: readonly string[], used: Set<string>): RawFinding[] {
  const out: RawFinding[] = [];
  const providerOf = (local: string, locator: Locator, what: string): void => {
    const address = qualifySource(sources.get(local) ?? local);
    used.add(address);
    if (!providerAllowed(address, allowed)) {
      out.push({ rule: 'provider_not_allowed', message: `${what} uses provider ${address}, which is not allowed`, locator });
    }
  };
  const localOf = (type: string, body: Body): string => {
    const explicit = stringAttr(body, 'provider');
    return explicit !== undefined ? explicit.split('.')[0]! : type.split('_')[0]!;
  };

  const dataBlocks = (value: unknown, outer: Locator): void => {
    for (const [type, named] of labelled(value)) {
      for (const [name, bodies] of named.flatMap((group) => Object.entries(group)).map(([n, b]) => [n, blocks(b)] as const)) {
        const locator: Locator = [...outer, { block: 'data', labels: [type, name] }];
        if (type === 'external') out.push({ rule: 'data_external', message: `data "external" "${name}" would run a program`, locator });
        if (type === 'http') out.push({ rule: 'data_http', message: `data "http" "${name}" would make network requests`, locator });
        if (type === 'terraform_remote_state') out.push({ rule: 'remote_state', message: `data "terraform_remote_state" "${name}" reads state from elsewhere`, locator });
        for (const body of bodies) providerOf(localOf(type, body), locator, `data "${type}" "${name}"`);
      }
    }
  };

  for (const kind of ['resource', 'ephemeral'] as const) {
    for (const [type, named] of labelled(file.body[kind])) {
      for (const [name, value] of named.flatMap((group) => Object.entries(group))) {
        for (const body of blocks(value)) {
          const locator: Locator = [{ block: kind, labels: [type, name] }];
          providerOf(localOf(type, body), locator, `${kind} "${type}" "${name}"`);
          for (const [provisioner] of labelled(body.provisioner)) {
            out.push({
              rule: 'provisioner',
              message: `provisioner "${provisioner}" in ${type}.${name} is not allowed`,
              locator: [...locator, { block: 'provisioner', labels: [provisioner] }],
            });
          }
        }
      }
    }
  }
  dataBlocks(file.body.data, []);
  for (const [name, bodies] of labelled(file.body.check)) {
    for (const body of bodies) dataBlocks(body.data, [{ block: 'check', labels: [name] }]);
  }

  for (const [local, bodies] of labelled(file.body.provider)) {
    const locator: Locator = [{ block: 'provider', labels: [local] }];
    providerOf(local, locator, `provider "${local}"`);
    const address = qualifySource(sources.get(local) ?? local);
    if (address !== 'registry.terraform.io/hashicorp/aws') continue;
    for (const body of bodies) {
      for (const argument of AWS_RISKY_ARGUMENTS) {
        if (body[argument] === undefined) continue;
        out.push({
          rule: 'provider_argument',
          message: `provider "${local}" sets "${argument}", which redirects requests or reads credentials`,
          locator: [...locator, { attr: argument }],
        });
      }
    }
  }

  for (const terraform of blocks(file.body.terraform)) {
    for (const [type] of labelled(terraform.backend)) {
      out.push({ rule: 'backend', message: `backend "${type}" is not allowed (plans never use a backend)`, locator: [{ block: 'terraform' }, { block: 'backend', labels: [type] }] });
    }
    if (terraform.cloud !== undefined) {
      out.push({ rule: 'cloud', message: 'a cloud block is not allowed', locator: [{ block: 'terraform' }, { block: 'cloud' }] });
    }
  }
  // Provider-defined functions (threat row 3): `provider::NAME::fn(...)` anywhere in an expression.
  for (const match of file.source.matchAll(/provider::([A-Za-z0-9_-]+)::/g)) {
    const before = out.length;
    providerOf(match[1]!, [], `function provider::${match[1]}::`);
    const line = file.source.slice(0, match.index).split('\n').length;
    for (const finding of out.slice(before)) finding.line = line;
  }
  return out;
}

export function locate(file: ParsedFile, raw: RawFinding): Omit<Finding, 'severity'> {
  const line = raw.line ?? (raw.locator.length === 0 ? undefined : findLine(file.source, file.syntax, raw.locator));
  return { rule: raw.rule, file: file.file, message: raw.message, ...(line === undefined ? {} : { line }) };
}
