// Runs a trusted host tool (ldd, bwrap --version, terraform version) with a fixed argv; never a shell string.
// Detached (its own session): a terminal's Ctrl-C is for the service, which drains; it must not kill a tool
// a run is waiting on (measured: an ldd killed that way failed the run being drained).
import { spawn } from 'node:child_process';

export interface HostToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runHostTool(file: string, args: readonly string[], timeoutMs = 30_000): Promise<HostToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === null) reject(new Error(`${file} ${args.join(' ')} ended by ${signal}${signal === 'SIGKILL' ? ` (timeout ${timeoutMs} ms?)` : ''}`));
      else resolve({ code, stdout, stderr });
    });
  });
}

export async function mustRunHostTool(file: string, args: readonly string[]): Promise<string> {
  const result = await runHostTool(file, args);
  if (result.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}
