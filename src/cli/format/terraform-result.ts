// Human-readable rendering of a TerraformResult: changes table, findings with file:line, diagnostics,
// and time and memory per step. Pure: returns text.
import Table from 'cli-table3';
import pc from 'picocolors';
import { tableStyle } from './table-style.js';
import type { TerraformProgress, TerraformResult } from '../../domains/terraform/types.js';

const MiB = 1024 * 1024;

export function formatProgress(progress: TerraformProgress): string {
  if (progress.state === 'started') return `${pc.cyan('▸')} terraform ${progress.step} ...\n`;
  const result = progress.result!;
  const ok = result.exit_reason === 'exited' && result.exit_code === 0;
  const mark = ok ? pc.green('✓') : pc.red('✗');
  const how = ok ? '' : ` ${pc.red(result.exit_reason === 'exited' ? `exit ${String(result.exit_code)}` : result.exit_reason)}`;
  return `${mark} terraform ${progress.step}${how} ${pc.dim(`${(result.wall_ms / 1000).toFixed(2)} s, ${(result.peak_memory_bytes / MiB).toFixed(0)} MiB`)}\n`;
}

export function formatTerraformResult(result: TerraformResult, planPath: string | null): string {
  const out: string[] = [];
  if (result.summary) {
    const s = result.summary;
    out.push(pc.bold(`Plan: ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy, ${s.replace} to replace, ${s.noop} unchanged`));
    if (s.resources.length > 0) {
      const table = new Table({ head: ['resource', 'actions'], style: tableStyle() });
      for (const resource of s.resources) table.push([resource.address, colorActions(resource.actions)]);
      out.push(table.toString());
    }
  }
  if (result.findings.length > 0) {
    out.push(pc.bold('Findings'));
    for (const f of result.findings) {
      const where = f.line === undefined ? f.file : `${f.file}:${f.line}`;
      const tag = f.severity === 'block' ? pc.red('block') : pc.yellow('warn ');
      out.push(`  ${tag} ${pc.dim(f.rule)} ${where}  ${f.message}`);
    }
  }
  if (result.diagnostics.length > 0) {
    out.push(pc.bold('Diagnostics'));
    for (const d of result.diagnostics) {
      const where = d.file === undefined ? '' : ` ${d.file}${d.line === undefined ? '' : `:${d.line}`}`;
      const tag = d.severity === 'error' ? pc.red('error') : pc.yellow('warning');
      out.push(`  ${tag}${where}: ${d.summary}`);
      if (d.detail) out.push(pc.dim(d.detail.split('\n').map((line) => `    ${line}`).join('\n')));
    }
  }
  if (result.steps.length > 0) {
    const table = new Table({ head: ['step', 'exit', 'wall', 'cpu', 'peak memory'], style: tableStyle() });
    for (const { name, result: r } of result.steps) {
      const exit = r.exit_reason === 'exited' ? `exited ${String(r.exit_code)}` : r.exit_reason;
      table.push([name, exit, `${(r.wall_ms / 1000).toFixed(2)} s`, `${(r.cpu_ms / 1000).toFixed(2)} s`, `${(r.peak_memory_bytes / MiB).toFixed(0)} MiB`]);
    }
    out.push(table.toString());
  }
  if (planPath) out.push(`plan JSON written to ${planPath}`);
  out.push(
    result.error
      ? pc.red(`${result.error.type}: ${result.error.message}${result.error.detail ? ` (${result.error.detail})` : ''}`)
      : pc.green(`${result.summary ? 'plan' : 'validate'} succeeded`),
  );
  return `${out.join('\n')}\n`;
}

function colorActions(actions: string[]): string {
  const text = actions.join(', ');
  if (actions.includes('delete') && actions.includes('create')) return pc.magenta(text);
  if (actions.includes('create')) return pc.green(text);
  if (actions.includes('delete')) return pc.red(text);
  if (actions.includes('update')) return pc.yellow(text);
  return pc.dim(text);
}
