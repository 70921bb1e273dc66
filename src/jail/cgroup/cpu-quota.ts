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
