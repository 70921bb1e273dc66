// `confine serve` as users start it (bin/confine, a real process): a wrong setting stops it naming the
// variable; with no credentials configured it prints a dev key and a curl line that work; SIGTERM
// drains and exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './served.js';
import { call, until } from './support.js';

const BIN = fileURLToPath(new URL('../../bin/confine', import.meta.url));
const BASE_ENV = {
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  HOME: process.env.HOME ?? '/root',
  CONFINE_STATE_DIR: '/tmp/confine-test-state',
  CONFINE_UID_BASE: '1950450000',
  CONFINE_UID_COUNT: '32',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
};

// Every started service, so a failing assertion cannot leave one running (afterEach stops it).
const started = new Set<ChildProcess>();

function run(env: Record<string, string>, options: { ownProcessGroup?: boolean } = {}): { pid: number; done: Promise<number | null>; output: () => string; kill: (signal: NodeJS.Signals) => void } {
  const child = spawn(BIN, ['serve'], { env: { ...BASE_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: options.ownProcessGroup ?? false });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return { pid: child.pid!, done: new Promise((resolve) => child.once('exit', (code) => resolve(code))), output: () => output, kill: (signal) => child.kill(signal) };
}

describe('confine serve', () => {
  afterEach(async () => {
    for (const child of started) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  });

  // bin/confine builds dist/ when sources are newer; do it once, outside the timed tests.
  beforeAll(async () => {
    await new Promise<void>((resolve, reject) => {
      spawn(BIN, ['--help'], { stdio: 'ignore' }).once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bin/confine --help exited ${code}`))));
    });
  }, 300_000);

  it('wrong_setting_stops_start_naming_the_variable', async () => {
    for (const [name, value] of [['PORT', 'eighty'], ['RATE_LIMIT_REQUESTS', '0'], ['LOG_LEVEL', 'loud'], ['JWT_SECRET', 'short']] as const) {
      const proc = run({ [name]: value });
      const code = await proc.done;
      expect(code, proc.output()).toBe(2);
      expect(proc.output()).toContain(name);
    }
  }, 120_000);

  it('without_credentials_prints_a_working_dev_key_and_drains_on_sigterm', async () => {
    const port = await freePort();
    const proc = run({ PORT: String(port) });
    const key = await until(async () => /CONFINE_KEY=(\S+)/.exec(proc.output())?.[1], 60_000);
    expect(proc.output()).toContain(`curl -s -X POST http://127.0.0.1:${port}/api/v1/runs/commands?wait=true`);
    const base = `http://127.0.0.1:${port}`;
    expect((await call(base, 'GET', '/status')).status).toBe(401); // never open
    const r = await call(base, 'POST', '/api/v1/runs/commands?wait=true', { key, json: { command: 'echo hello' } });
    expect(r.status).toBe(200);
    expect(r.body['result']['run']['stdout']).toBe('hello\n');
    // After the first run of a shape, WORKSPACE_POOL (default 2) keeps fresh workspaces of it mounted.
    const ownMounts = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(`/confine-test-state/workspaces/${proc.pid}.`));
    await until(async () => ((await ownMounts()).length > 0 ? true : undefined), 10_000);
    proc.kill('SIGTERM');
    expect(await proc.done).toBe(0);
    // bin/confine execs node, so its pid owns the workspaces: none stays mounted (pool included).
    expect(await ownMounts()).toEqual([]);
    // The audit stream (stdout without AUDIT_LOG_PATH) recorded the run; the key never appears in output.
    expect(proc.output()).toContain('"event":"run_finished"');
    expect(proc.output().split(key).length - 1).toBe(1); // printed once, in the hint; never logged
  }, 120_000);

  it('ctrl_c_at_a_terminal_drains_the_running_jail_instead_of_killing_it', async () => {
    // A terminal sends SIGINT to the whole foreground process group. The jail agent keeps its own group,
    // so the service drains (the run finishes normally) and then everything is gone.
    const port = await freePort();
    const proc = run({ PORT: String(port), API_KEYS: 'tty:tty-key-0123456789abcdef', SHUTDOWN_GRACE_SECONDS: '30' }, { ownProcessGroup: true });
    const base = `http://127.0.0.1:${port}`;
    await until(async () => ((await fetch(`${base}/ready`).then((r) => r.status, () => 0)) === 200 ? true : undefined), 60_000);
    const headers = { 'x-api-key': 'tty-key-0123456789abcdef' };
    const inFlight = call(base, 'POST', '/api/v1/runs/scripts?wait=true', { headers, json: { script: 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo done\n' } });
    // The jail itself exists: a bubblewrap whose argv binds one of this service's workspaces.
    const jailRunning = async (): Promise<true | undefined> => {
      for (const pid of await readdir('/proc').catch(() => [])) {
        const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (argv.includes('bwrap') && argv.includes(`/workspaces/${proc.pid}.`)) return true;
      }
      return undefined;
    };
    await until(jailRunning, 30_000);
    process.kill(-proc.pid, 'SIGINT');
    const answered = await inFlight;
    expect(answered.body['state'], JSON.stringify(answered.body)).toBe('succeeded');
    expect(answered.body['result']['run']['stdout']).toBe('done\n');
    expect(await proc.done).toBe(0);
    const ownMounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(`/confine-test-state/workspaces/${proc.pid}.`));
    expect(ownMounts).toEqual([]);
  }, 120_000);

  it('sigterm_with_a_run_in_flight_answers_it_cancelled_then_exits', async () => {
    const port = await freePort();
    const key = 'drain:drain-key-0123456789abcdef';
    const proc = run({ PORT: String(port), API_KEYS: key, SHUTDOWN_GRACE_SECONDS: '1' });
    const base = `http://127.0.0.1:${port}`;
    await until(async () => ((await fetch(`${base}/ready`).then((r) => r.status, () => 0)) === 200 ? true : undefined), 60_000);
    const headers = { 'x-api-key': 'drain-key-0123456789abcdef' };
    const inFlight = call(base, 'POST', '/api/v1/runs/scripts?wait=true', { headers, json: { script: 'while :; do :; done\n', timeout_seconds: 60 } });
    await until(async () => (((await call(base, 'GET', '/status', { headers })).body['queue']?.['running'] as unknown) === 1 ? true : undefined), 30_000);
    const t0 = Date.now();
    proc.kill('SIGTERM');
    const answered = await inFlight;
    expect(answered.status).toBe(200);
    expect(answered.body['state']).toBe('cancelled');
    expect(answered.body['error']['detail']).toBe('shutdown');
    expect(await proc.done).toBe(0);
    // Generous bound: 1 s grace + kill; an answered keep-alive connection must not hold it for 72 s.
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 120_000);
});
