import { availableParallelism } from 'node:os';

export const CPU_PERIOD_US = 100_000;

/**
 * The CFS quota for a job, or undefined for none. A quota of at least every CPU the host has cannot
 * bind; it only adds CFS bandwidth throttling (per-CPU runtime slices), which slowed jailed terraform
 * steps measurably (bench/terraform-pipeline.ts: jailed/bare 1.053 with a 2-core quota on this 2-core
 * host, 1.024 without).
 */
export function cpuQuotaUs(cores: number, hostCpus: number = availableParallelism()): number | undefined {
  if (cores >= hostCpus) return undefined;
  return Math.max(1000, Math.round(cores * CPU_PERIOD_US));
}

/**
 * CPU weight of all tenant jails together, relative to the service process beside them (whose weight is
 * the default: 1024 shares on v1, 100 on v2). Jails spinning on every core used to delay the service's own
 * event loop (/health p99 123 ms under the hostile mix, 2 cores): a quarter of the service's weight makes
 * the kernel run the service first when both want a core, and costs jails nothing while the service idles
 * (weights only divide contended time).
 */
export const JOBS_CPU_SHARES_V1 = 256;
export const JOBS_CPU_WEIGHT_V2 = 25;
