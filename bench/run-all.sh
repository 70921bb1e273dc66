#!/usr/bin/env bash
# Runs every benchmark (as root: jails need cgroups). Benchmarks are TypeScript run directly with
# vite-node (vitest's runner, already a dev dependency) so no build step is needed. Append one line per bench.
set -euo pipefail
cd "$(dirname "$0")/.."
npx vite-node bench/jail-spawn.ts "${JAIL_SPAWN_RUNS:-60}"
npx vite-node bench/api-throughput.ts "${API_BENCH_SECONDS:-6}" "${API_BENCH_CONCURRENCY:-8}"
npx vite-node bench/terraform-pipeline.ts "${TF_BENCH_ROUNDS:-3}"
npx vite-node bench/hostile-mix.ts "${HOSTILE_BENCH_SECONDS:-30}"
npx vite-node bench/analysis-jail.ts "${ANALYSIS_BENCH_ROUNDS:-15}"
npx vite-node bench/egress.ts "${EGRESS_BENCH_ROUNDS:-5}"
npx vite-node bench/distributed.ts "${DIST_BENCH_SECONDS:-6}" "${DIST_BENCH_CONCURRENCY:-8}" "${DIST_BENCH_ROUNDS:-3}"
