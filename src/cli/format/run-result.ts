import pc from 'picocolors';
import type { RunResult } from '../../jail/spec.js';

const MiB = 1024 * 1024;

export function formatRunResult(result: RunResult): string {
  const lines: string[] = [];
  if (result.stdout) lines.push(result.stdout.replace(/\n?$/, '\n') + (result.stdout_truncated ? pc.yellow('[stdout truncated]\n') : ''));
  if (result.stderr) lines.push(pc.dim(result.stderr.replace(/\n?$/, '\n')) + (result.stderr_truncated ? pc.yellow('[stderr truncated]\n') : ''));
  const status = result.exit_reason === 'exited' && result.exit_code === 0 ? pc.green : pc.red;
  const how = result.signal ? `signal ${result.signal}` : `exit code ${result.exit_code}`;
  lines.push(
    status(`${result.exit_reason}`) +
      ` (${how}) · wall ${result.wall_ms} ms · cpu ${result.cpu_ms} ms · peak memory ${(result.peak_memory_bytes / MiB).toFixed(1)} MiB\n`,
  );
  return lines.join('');
}

/** The CLI's exit status mirrors the jailed program's: its exit code, 124 on timeout, 128+n on signal n. */
export function exitStatusOf(result: RunResult, signalNumber: (name: string) => number | undefined): number {
  if (result.exit_reason === 'exited') return result.exit_code ?? 1;
  if (result.exit_reason === 'timeout') return 124;
  const n = result.signal ? signalNumber(result.signal) : undefined;
  return n ? 128 + n : 125;
}
