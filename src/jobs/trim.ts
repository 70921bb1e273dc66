// Finished run records are kept in memory for polling; their text (stdout/stderr of every step,
// diagnostics) is what makes them large. Each record keeps its text up to a byte budget: the budget is
// shared out fairly (short texts whole, long ones cut to an equal share), a cut stdout/stderr says so in
// its own `*_truncated` flag, and the record says how much was dropped (`output_trimmed`). Without this,
// 180 runs printing a few MiB each took the service from 163 to 618 MiB RSS.
import type { RunResult } from '../jail/spec.js';
import type { RunOutcome, RunRecord } from './types.js';

/** One text field of a record: its current value and how to write the kept part back. */
interface TextSlot {
  bytes: number;
  value: string;
  set(kept: string): void;
}

/**
 * Cuts a record's texts to `budget` bytes in total (UTF-8); returns the record's size after the cut (texts
 * plus an inline plan). An inline plan that does not fit is dropped whole when the run has a
 * plan_reference (GET /runs/{id}/plan still serves it from the store); without one it is kept and the
 * texts share what is left.
 */
export function trimRecord(record: RunRecord, budget: number): number {
  if (!record.outcome) return 0;
  const outcome = cloneOutcome(record.outcome);
  const slots = textSlots(outcome);
  const textBytes = slots.reduce((sum, slot) => sum + slot.bytes, 0);
  let planBytes = inlinePlanBytes(outcome);
  if (textBytes + planBytes <= budget) return textBytes + planBytes;
  if (planBytes > 0 && record.plan_reference !== undefined && outcome.kind === 'terraform') {
    outcome.result = { ...outcome.result, plan_json: null };
    planBytes = 0;
  }
  const textBudget = Math.max(0, budget - planBytes);
  record.outcome = outcome;
  if (textBytes <= textBudget) return textBytes + planBytes;
  const shares = fairShares(slots.map((slot) => slot.bytes), textBudget);
  let kept = 0;
  slots.forEach((slot, i) => {
    const share = shares[i]!;
    if (share < slot.bytes) slot.set(cutUtf8(slot.value, share));
    kept += Math.min(share, slot.bytes);
  });
  record.output_trimmed = { kept_bytes: kept, dropped_bytes: textBytes - kept };
  return kept + planBytes;
}

function inlinePlanBytes(outcome: RunOutcome): number {
  if (outcome.kind !== 'terraform') return 0;
  const plan = outcome.result.plan_json;
  // Bounded by the executor's inline limit (256 KiB by default): measuring it is a small, bounded step.
  if (plan === null || plan === undefined) return 0;
  if (typeof plan === 'string') return Buffer.byteLength(plan, 'utf8');
  if (Buffer.isBuffer(plan)) return plan.length;
  return Buffer.byteLength(JSON.stringify(plan), 'utf8');
}

/** Water-filling: fields smaller than an equal share keep everything; the rest split what is left. */
export function fairShares(sizes: readonly number[], budget: number): number[] {
  const order = sizes.map((size, i) => ({ size, i })).sort((a, b) => a.size - b.size);
  const shares = new Array<number>(sizes.length).fill(0);
  let left = budget;
  order.forEach(({ size, i }, position) => {
    const equal = Math.floor(left / (order.length - position));
    shares[i] = Math.min(size, equal);
    left -= shares[i]!;
  });
  return shares;
}

/** The first `maxBytes` bytes of text, never ending in half a UTF-8 sequence. */
export function cutUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Back off over continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

function textSlots(outcome: RunOutcome): TextSlot[] {
  const slots: TextSlot[] = [];
  const add = (value: string, set: (kept: string) => void): void => {
    if (value.length > 0) slots.push({ value, bytes: Buffer.byteLength(value, 'utf8'), set });
  };
  const addRun = (run: RunResult): void => {
    add(run.stdout, (kept) => Object.assign(run, { stdout: kept, stdout_truncated: true }));
    add(run.stderr, (kept) => Object.assign(run, { stderr: kept, stderr_truncated: true }));
  };
  if (outcome.kind === 'terraform') {
    for (const step of outcome.result.steps) addRun(step.result);
    for (const diagnostic of outcome.result.diagnostics) {
      add(diagnostic.summary, (kept) => (diagnostic.summary = kept));
      if (diagnostic.detail !== undefined) add(diagnostic.detail, (kept) => (diagnostic.detail = kept));
    }
  } else if (outcome.result.run) {
    addRun(outcome.result.run);
  }
  return slots;
}

/** Copies exactly the parts trimming may write to; the executor's objects are never mutated. */
function cloneOutcome(outcome: RunOutcome): RunOutcome {
  if (outcome.kind === 'terraform') {
    const result = outcome.result;
    return {
      kind: 'terraform',
      result: {
        ...result,
        steps: result.steps.map((step) => ({ ...step, result: { ...step.result } })),
        diagnostics: result.diagnostics.map((diagnostic) => ({ ...diagnostic })),
      },
    };
  }
  const result = outcome.result;
  return { kind: outcome.kind, result: { ...result, run: result.run ? { ...result.run } : null } };
}
