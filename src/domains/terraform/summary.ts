// Plan JSON -> change summary. Replacements are counted once as `replace`, not as add + destroy.
import type { PlanSummary } from './types.js';

interface ResourceChange {
  address?: unknown;
  change?: { actions?: unknown };
}

export function summarizePlan(plan: unknown): PlanSummary {
  const summary: PlanSummary = { add: 0, change: 0, destroy: 0, replace: 0, noop: 0, resources: [] };
  const changes = (plan as { resource_changes?: unknown } | null)?.resource_changes;
  if (!Array.isArray(changes)) return summary;
  for (const item of changes as ResourceChange[]) {
    const actions = Array.isArray(item.change?.actions) ? (item.change.actions as unknown[]).filter((a): a is string => typeof a === 'string') : [];
    if (typeof item.address !== 'string') continue;
    summary.resources.push({ address: item.address, actions });
    if (actions.includes('create') && actions.includes('delete')) summary.replace += 1;
    else if (actions.includes('create')) summary.add += 1;
    else if (actions.includes('update')) summary.change += 1;
    else if (actions.includes('delete')) summary.destroy += 1;
    else if (actions.includes('no-op')) summary.noop += 1;
  }
  return summary;
}
