// `bin/confine serve` as a separate process, for tests that measure the service itself from outside: its
// memory (VmRSS / VmHWM of its own pid, not the test runner's), and how fast it answers while attacked.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { until } from './support.js';

const BIN = fileURLToPath(new URL('../../bin/confine', import.meta.url));

export interface Served {
  base: string;
  port: number;
  pid: number;
  output(): string;
  /** Resident and peak resident memory of the service process, in MiB. */
  memory(): Promise<{ rssMiB: number; peakMiB: number }>;
  /** SIGTERM (SIGKILL after 20 s); the exit code, null when killed by a signal. */
  stop(): Promise<number | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export async function serve(env: Record<string, string>): Promise<Served> {
  const port = await freePort();
  const child: ChildProcess = spawn(BIN, ['serve'], {
    env: {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      CONFINE_STATE_DIR: '/tmp/confine-test-state',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const base = `http://127.0.0.1:${port}`;
  try {
    await until(async () => ((await fetch(`${base}/ready`).then((r) => r.status, () => 0)) === 200 ? true : undefined), 120_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`confine serve did not become ready: ${output}`, { cause: error });
  }
  return {
    base,
    port,
    pid: child.pid!,
    output: () => output,
    async memory() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      return exited;
    },
  };
}

/** Latencies (ms) of GET path, one request every `everyMs`, until `stop` resolves. */
export async function sample(base: string, path: string, everyMs: number, stop: Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  let done = false;
  void stop.finally(() => (done = true));
  while (!done) {
    const t0 = performance.now();
    const response = await fetch(`${base}${path}`);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
    latencies.push(performance.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return latencies;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
