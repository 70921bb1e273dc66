// A mixed attack on a running service, from several tenants and a stranger at once, while one
// well-behaved tenant keeps working: the soak test (tests/api/soak.test.ts) asserts on it and the bench
// (bench/hostile-mix.ts) reports it. Every attack is one the service used to fail (issue 9): parser
// poisoning, output floods, CPU spinning up to the time limit, oversized and malformed bodies, repeated
// .tf.json keys, and half-open unauthenticated connections.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const FLOOD = fileURLToPath(new URL('../api/flood.mjs', import.meta.url));

export interface MixOptions {
  base: string;
  /** tenant -> API key; `good` is the well-behaved tenant, every other one attacks. */
  keys: { good: string; attackers: string[] };
  durationMs: number;
  /** Concurrent request loops per attacking tenant. */
  loopsPerAttacker: number;
  /** Half-sent POSTs and unfinished header blocks the stranger keeps open. */
  stranger?: { halfSent: number; unfinished: number };
  /** Without attackers and stranger: the baseline the bench compares with. */
  quiet?: boolean;
}

export interface MixReport {
  good: { requests: number; failures: string[]; latenciesMs: number[] };
  health: { latenciesMs: number[]; failures: number };
  attacks: Record<string, Record<string, number>>;
}

const DEPTH = 100_000;
const NESTED = `locals {\n  a = ${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}\n}\n`;
const DUPLICATE_KEYS = '{"resource": {"terraform_data": {"a": {}}}, "resource": {"terraform_data": {"b": {"provisioner": {"local-exec": {"command": "id"}}}}}}';
const MANY_FILES = JSON.stringify({ command: 'ls', files: Object.fromEntries(Array.from({ length: 350_000 }, (_, i) => [`f${i}`, ''])) });

type Attack = (base: string, key: string) => Promise<string>;

/** Each attack returns an outcome label (HTTP status and run error class) for the report. */
const ATTACKS: Record<string, Attack> = {
  nesting: async (base, key) => outcome(await post(base, key, '/api/v1/runs/terraform?wait=true', JSON.stringify({ files: { 'main.tf': NESTED }, mode: 'validate' }))),
  duplicate_keys: async (base, key) => outcome(await post(base, key, '/api/v1/runs/terraform?wait=true', JSON.stringify({ files: { 'main.tf.json': DUPLICATE_KEYS }, mode: 'plan' }))),
  output_flood: async (base, key) => outcome(await post(base, key, '/api/v1/runs/scripts?wait=true', JSON.stringify({ script: 'while :; do echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; done\n', timeout_seconds: 2 }))),
  cpu_spin: async (base, key) => outcome(await post(base, key, '/api/v1/runs/scripts?wait=true', JSON.stringify({ script: 'while :; do :; done\n', timeout_seconds: 1 }))),
  many_files: async (base, key) => outcome(await post(base, key, '/api/v1/runs/commands?wait=true', MANY_FILES)),
  bad_json: async (base, key) => outcome(await post(base, key, '/api/v1/runs/commands', '{"command": "echo', 'application/json')),
};

export async function hostileMix(options: MixOptions): Promise<MixReport> {
  const report: MixReport = { good: { requests: 0, failures: [], latenciesMs: [] }, health: { latenciesMs: [], failures: 0 }, attacks: {} };
  const deadline = Date.now() + options.durationMs;
  const running = (): boolean => Date.now() < deadline;
  const loops: Promise<void>[] = [];
  const base = options.base;

  if (!options.quiet) {
    const names = Object.keys(ATTACKS);
    options.keys.attackers.forEach((key, t) => {
      for (let l = 0; l < options.loopsPerAttacker; l++) {
        const name = names[(t * options.loopsPerAttacker + l) % names.length]!;
        const tally = (report.attacks[name] ??= {});
        loops.push((async () => {
          while (running()) {
            const label = await ATTACKS[name]!(base, key).catch((error: unknown) => clientFailure(error));
            tally[label] = (tally[label] ?? 0) + 1;
            // Refused at once (429/503/400): back off a little, as a client reading Retry-After would not.
            if (!label.startsWith('200')) await sleep(50);
          }
        })());
      }
    });
    if (options.stranger) loops.push(stranger(base, options.stranger, options.durationMs, report));
  }

  // The well-behaved tenant: one command after another, a Terraform validate every tenth request.
  loops.push((async () => {
    for (let i = 0; running(); i++) {
      const terraform = i % 10 === 9;
      const t0 = performance.now();
      const response = terraform
        ? await post(base, options.keys.good, '/api/v1/runs/terraform?wait=true', JSON.stringify({ files: { 'main.tf': 'resource "terraform_data" "ok" {}\n' }, mode: 'validate' }))
        : await post(base, options.keys.good, '/api/v1/runs/commands?wait=true', JSON.stringify({ command: 'echo ok' }));
      report.good.latenciesMs.push(performance.now() - t0);
      report.good.requests++;
      const state = (response.body as { state?: string }).state;
      const stdout = (response.body as { result?: { run?: { stdout?: string } } }).result?.run?.stdout;
      if (response.status !== 200 || state !== 'succeeded' || (!terraform && stdout !== 'ok\n')) {
        report.good.failures.push(`${terraform ? 'terraform' : 'command'}: ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`);
      }
      await sleep(100);
    }
  })());

  // Liveness as a load balancer sees it.
  loops.push((async () => {
    while (running()) {
      const t0 = performance.now();
      const ok = await fetch(`${base}/health`).then(async (r) => (await r.arrayBuffer(), r.status === 200), () => false);
      report.health.latenciesMs.push(performance.now() - t0);
      if (!ok) report.health.failures++;
      await sleep(50);
    }
  })());

  await Promise.all(loops);
  return report;
}

async function post(base: string, key: string, path: string, body: string, type = 'application/json'): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': type }, body });
  const text = await response.text();
  let parsed: unknown = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { text: text.slice(0, 200) };
  }
  return { status: response.status, body: parsed };
}

function outcome(response: { status: number; body: unknown }): string {
  const body = response.body as { error?: { type?: string; code?: string }; state?: string };
  return `${response.status} ${body.error?.type ?? body.error?.code ?? body.state ?? ''}`.trim();
}

function stranger(base: string, counts: { halfSent: number; unfinished: number }, holdMs: number, report: MixReport): Promise<void> {
  const port = new URL(base).port;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FLOOD, port, String(counts.halfSent), String(counts.unfinished), String(holdMs)], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.once('exit', () => {
      const done = text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { phase: string; still_open: number; half_sent: { opened: number; closed_by_server: number }; unfinished_headers: { opened: number; closed_by_server: number } }).find((line) => line.phase === 'done');
      report.attacks['stranger'] = done
        ? { half_sent_opened: done.half_sent.opened, half_sent_closed_by_server: done.half_sent.closed_by_server, unfinished_opened: done.unfinished_headers.opened, unfinished_closed_by_server: done.unfinished_headers.closed_by_server, still_open_at_end: done.still_open }
        : { no_report: 1 };
      resolve();
    });
  });
}

/**
 * A request the service refused before its body ended: the client's write fails (EPIPE/ECONNRESET) once
 * the answered connection closes. That is the service stopping an oversized body early, not a failure.
 */
function clientFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  return cause === 'EPIPE' || cause === 'ECONNRESET' ? 'refused_mid_upload' : `client_error:${(error as Error).message.slice(0, 40)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
