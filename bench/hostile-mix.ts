// The service under attack vs the same service quiet, side by side in one run (issue 9): one `confine
// serve` process; first a well-behaved tenant alone for N seconds, then the same tenant while three tenants
// and a stranger run the hostile mix (tests/support/hostile-mix.ts). Prints the well-behaved tenant's
// p50/p99, /health p99 and the service's resident memory (idle, peak quiet, peak under attack) as ratios.
//   npx vite-node bench/hostile-mix.ts [seconds per phase, default 30]
import { percentile, serve } from '../tests/api/served.js';
import { hostileMix, type MixReport } from '../tests/support/hostile-mix.js';

const seconds = Number(process.argv[2] ?? 30);
const GOOD = 'good-key-bench-0123456789abcdef';
const ATTACKERS = ['evil1-key-bench-0123456789abc', 'evil2-key-bench-0123456789abc', 'evil3-key-bench-0123456789abc'];

const service = await serve({
  API_KEYS: [`good:${GOOD}`, ...ATTACKERS.map((key, i) => `evil${i + 1}:${key}`)].join(','),
  CONFINE_UID_BASE: '1950490000',
  CONFINE_UID_COUNT: '128',
  WORKERS: '2',
  RATE_LIMIT_REQUESTS: '100000',
});
try {
  const idle = await service.memory();
  const mix = { base: service.base, keys: { good: GOOD, attackers: ATTACKERS }, durationMs: seconds * 1000, loopsPerAttacker: 2 };
  const quiet = await hostileMix({ ...mix, quiet: true });
  const quietMemory = await service.memory();
  const attacked = await hostileMix({ ...mix, stranger: { halfSent: 1000, unfinished: 500 } });
  const attackedMemory = await service.memory();
  const row = (name: string, report: MixReport, peakMiB: number): string =>
    `${name.padEnd(10)} good ${String(report.good.requests).padStart(4)} req, ${report.good.failures.length} failed, p50 ${percentile(report.good.latenciesMs, 50).toFixed(0).padStart(5)} ms, p99 ${percentile(report.good.latenciesMs, 99).toFixed(0).padStart(5)} ms | /health p99 ${percentile(report.health.latenciesMs, 99).toFixed(1).padStart(6)} ms | peak RSS ${peakMiB.toFixed(0)} MiB`;
  process.stdout.write(`hostile mix, ${seconds} s per phase, WORKERS=2, service idle RSS ${idle.rssMiB.toFixed(0)} MiB\n`);
  process.stdout.write(`${row('quiet', quiet, quietMemory.peakMiB)}\n${row('attacked', attacked, attackedMemory.peakMiB)}\n`);
  const ratio = (a: number, b: number): string => (a / b).toFixed(2);
  process.stdout.write(
    `ratios attacked/quiet: good p50 ${ratio(percentile(attacked.good.latenciesMs, 50), percentile(quiet.good.latenciesMs, 50))}x, ` +
      `good p99 ${ratio(percentile(attacked.good.latenciesMs, 99), percentile(quiet.good.latenciesMs, 99))}x, ` +
      `/health p99 ${ratio(percentile(attacked.health.latenciesMs, 99), percentile(quiet.health.latenciesMs, 99))}x, ` +
      `peak RSS ${ratio(attackedMemory.peakMiB, quietMemory.peakMiB)}x (vs idle ${ratio(attackedMemory.peakMiB, idle.rssMiB)}x)\n`,
  );
  process.stdout.write(`attacks: ${JSON.stringify(attacked.attacks)}\n`);
} finally {
  await service.stop();
}
