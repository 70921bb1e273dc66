#!/usr/bin/env bash
# Runs every benchmark (as root: jails need cgroups). Benchmarks are TypeScript run directly with
# vite-node (vitest's runner, already a dev dependency) so no build step is needed. Append one line per bench.
set -euo pipefail
cd "$(dirname "$0")/.."
npx vite-node bench/jail-spawn.ts "${JAIL_SPAWN_RUNS:-60}"
