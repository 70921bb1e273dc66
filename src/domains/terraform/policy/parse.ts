// Configuration files -> plain JSON bodies, with the real HCL parser (@cdktf/hcl2json) for `.tf` and
// JSON.parse for `.tf.json`. Both produce the same shape, read through the helpers below.
import { parse as parseHcl } from '@cdktf/hcl2json';
import { DomainError } from '../../errors.js';
import { parseJsonConfig } from './json-config.js';
import { checkNesting } from './nesting.js';

export type Body = Record<string, unknown>;

export interface ParsedFile {
  /** Path inside the upload. */
  file: string;
  syntax: 'hcl' | 'json';
  source: string;
  body: Body;
}

export { isConfigFile } from './files.js';

/**
 * Parses one configuration file. Runs inside the analysis jail (src/domains/terraform/analysis), never in
 * the service process: the HCL parser is Go compiled to WASM, and what it does with hostile input (stack
 * overflow, runaway memory) must end only this request.
 */
export async function parseConfigFile(file: string, source: string): Promise<ParsedFile> {
  if (file.endsWith('.tf.json')) {
    const body = parseJsonConfig(file, source);
    if (!isBody(body)) throw new DomainError('validation_error', 'a .tf.json file must hold a JSON object', file);
    return { file, syntax: 'json', source, body };
  }
  checkNesting(file, source, 'hcl');
  try {
    return { file, syntax: 'hcl', source, body: await parseHcl(file, source) };
  } catch (error) {
    // Fail closed: what the policy cannot read, terraform must not run.
    throw new DomainError('validation_error', 'configuration does not parse', error instanceof Error ? error.message : String(error));
  }
}

export function isBody(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A block's bodies: hcl2json always gives arrays; `.tf.json` allows an object or an array of objects. */
export function blocks(value: unknown): Body[] {
  if (Array.isArray(value)) return value.filter(isBody);
  return isBody(value) ? [value] : [];
}

/** Labelled blocks (`resource "type" "name"`, `backend "s3"`...) as [label, bodies] pairs. */
export function labelled(value: unknown): [string, Body[]][] {
  const out: [string, Body[]][] = [];
  for (const group of Array.isArray(value) ? value : [value]) {
    if (!isBody(group)) continue;
    for (const [label, inner] of Object.entries(group)) out.push([label, blocks(inner)]);
  }
  return out;
}

/** A string attribute, unwrapping hcl2json's `${...}` for plain references. */
export function stringAttr(body: Body, name: string): string | undefined {
  const value = body[name];
  if (typeof value !== 'string') return undefined;
  const match = /^\$\{([^}]*)\}$/.exec(value);
  return match ? match[1]!.trim() : value;
}
