// Runs a trusted host tool (mount, umount, ldd, bwrap --version) with a fixed argv; never a shell string.
import { execFile } from 'node:child_process';

export interface HostToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runHostTool(file: string, args: readonly string[], timeoutMs = 30_000): Promise<HostToolResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
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
