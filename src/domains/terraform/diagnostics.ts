// Diagnostics from terraform's machine-readable output: `validate -json` prints one object with a
// `diagnostics` array; `init -json` and `plan -json` stream one JSON message per line.
import type { Diagnostic } from './types.js';

interface RawDiagnostic {
  severity?: unknown;
  summary?: unknown;
  detail?: unknown;
  range?: { filename?: unknown; start?: { line?: unknown } };
  address?: unknown;
}

function toDiagnostic(raw: RawDiagnostic): Diagnostic | undefined {
  if (typeof raw.summary !== 'string') return undefined;
  const diagnostic: Diagnostic = { severity: raw.severity === 'warning' ? 'warning' : 'error', summary: raw.summary };
  if (typeof raw.detail === 'string' && raw.detail.trim() !== '') diagnostic.detail = raw.detail.trim();
  if (typeof raw.range?.filename === 'string') diagnostic.file = raw.range.filename;
  if (typeof raw.range?.start?.line === 'number') diagnostic.line = raw.range.start.line;
  if (typeof raw.address === 'string') diagnostic.address = raw.address;
  return diagnostic;
}

export function parseDiagnostics(stdout: string): Diagnostic[] {
  const trimmed = stdout.trim();
  if (trimmed === '') return [];
  const whole = tryParse(trimmed);
  if (whole !== undefined && Array.isArray((whole as { diagnostics?: unknown }).diagnostics)) {
    return ((whole as { diagnostics: RawDiagnostic[] }).diagnostics).map(toDiagnostic).filter((d): d is Diagnostic => d !== undefined);
  }
  const out: Diagnostic[] = [];
  for (const line of trimmed.split('\n')) {
    // A plan's -json stream holds a line per resource (up to the 8 MiB output cap): only diagnostic lines
    // are parsed, so the event loop's work stays with the few lines that matter.
    if (!line.includes('"diagnostic"')) continue;
    const message = tryParse(line) as { type?: unknown; diagnostic?: RawDiagnostic } | undefined;
    if (message?.type !== 'diagnostic' || message.diagnostic === undefined) continue;
    const diagnostic = toDiagnostic(message.diagnostic);
    if (diagnostic) out.push(diagnostic);
  }
  return out;
}

/** init's `init_output` message code once it begins installing providers (configuration loaded by then). */
export const INIT_PROVIDERS_STARTED = 'initializing_provider_plugin_message';

/** The `message_code`s of init's `init_output` messages (`init -json`, terraform 1.9+): the phases it reached. */
export function initMessageCodes(stdout: string): Set<string> {
  const codes = new Set<string>();
  for (const line of stdout.split('\n')) {
    if (!line.includes('"init_output"')) continue; // most lines: skip the parse
    const message = tryParse(line) as { type?: unknown; message_code?: unknown } | undefined;
    if (message?.type === 'init_output' && typeof message.message_code === 'string') codes.add(message.message_code);
  }
  return codes;
}

/** Terraform's plain-text errors (when it fails before it can speak JSON), as one diagnostic. */
export function stderrDiagnostic(stderr: string): Diagnostic | undefined {
  const text = stderr.replace(/\u001b\[[0-9;]*m/g, '').trim();
  if (text === '') return undefined;
  const match = /Error: ([^\n]+)\n*([\s\S]*)/.exec(text);
  if (match) return { severity: 'error', summary: match[1]!.trim(), ...(match[2]!.trim() ? { detail: match[2]!.trim().slice(0, 4000) } : {}) };
  return { severity: 'error', summary: text.split('\n')[0]!.slice(0, 500), ...(text.includes('\n') ? { detail: text.slice(0, 4000) } : {}) };
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not JSON: a plain-text line terraform printed among the JSON messages
  }
}
