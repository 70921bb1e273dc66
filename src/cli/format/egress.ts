// The egress calls of a run (issue 11) as a table: what the plan asked the cloud for, and what was refused.
// Pure: returns text.
import Table from 'cli-table3';
import pc from 'picocolors';
import { tableStyle } from './table-style.js';
import type { EgressCall } from '../../egress/types.js';

export function formatEgress(calls: readonly EgressCall[]): string {
  if (calls.length === 0) return `${pc.bold('Egress')} ${pc.dim('no cloud API calls')}\n`;
  const refused = calls.filter((call) => !call.allowed).length;
  const table = new Table({ head: ['service', 'action', 'region', 'status', 'bytes', 'ms', 'verdict'], style: tableStyle() });
  for (const call of calls) {
    const verdict = call.allowed ? (call.reason ? pc.yellow(`cut: ${call.reason}`) : pc.green('allowed')) : pc.red(`refused: ${call.reason ?? 'not allowlisted'}`);
    table.push([call.service, call.action, call.region, String(call.status), String(call.bytes), String(Math.round(call.ms)), verdict]);
  }
  const head = `${pc.bold('Egress')} ${calls.length} call${calls.length === 1 ? '' : 's'}${refused > 0 ? pc.red(`, ${refused} refused`) : ''}`;
  return `${head}\n${table.toString()}\n`;
}
