#!/usr/bin/env bash
# `make test`: every leg of the suite, one after another, each printing its own "N passed, N failed" line,
# then one closing line that adds them up (the line CI reads). A leg that cannot run on this machine fails
# loudly (see each leg's CONFINE_ALLOW_NO_* switch); a failing leg does not stop the others.
#   container   make test-container: the image built without a registry, run with the documented least
#               privilege and one privilege fewer each, the jail suite inside it, and on cgroup v2 (UML)
#   main        the vitest suite on this host: real jails, terraform, HTTP, S3, deployment files (its
#               compose and Kubernetes checks run the image the container leg built)
#   cluster     the API test files again with CONFINE_TEST_TOPOLOGY=cluster: 2 API processes + 2 workers
#               on a real redis-server per service (tests/api/cluster-topology.ts)
#   v2          make test-v2: tests/jail and the CLI on a real cgroup v2 kernel (User-Mode Linux guest)
#   unit-v2     make test-deploy-v2: the systemd unit placed and sandboxed on cgroup v2
set -uo pipefail
cd "$(dirname "$0")/.."
total_passed=0
total_failed=0
total_skipped=0
summary=()
# The API files that make sense across hosts (tests/api/cluster-topology.ts; skipped tests say why).
CLUSTER_API_FILES="tests/api/routes.test.ts tests/api/tenancy.test.ts tests/api/auth.test.ts tests/api/jwt.test.ts tests/api/storage.test.ts tests/api/redaction.test.ts tests/api/artifacts-lifecycle.test.ts tests/api/lifecycle.test.ts"

leg() {
  local name=$1
  shift
  local log=".test-$name.log" started=$SECONDS rc
  echo "=== leg $name: $*"
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # The leg's own closing line: "N passed, N failed[, N skipped]".
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -1)
  local passed=0 failed=0 skipped=0
  if [ -n "$line" ]; then
    passed=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
    failed=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
    if [[ $line == *skipped ]]; then skipped=$(sed -E 's/.*, ([0-9]+) skipped$/\1/' <<<"$line"); fi
  fi
  # A leg that failed without counting a failure (it could not run, or crashed), or that ended without
  # its summary line, counts as one failure.
  if { [ "$rc" != 0 ] || [ -z "$line" ]; } && [ "$failed" = 0 ]; then failed=1; fi
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
  summary+=("$(printf '%-10s %4d s  %s' "$name" $((SECONDS - started)) "${line:-no summary line (exit $rc)}")")
}

# The cgroup v2 legs boot User-Mode Linux guests: mostly one host thread each. They run beside the host
# legs, at a lower CPU priority so the host suite's timing-sensitive tests keep their share of the cores;
# their output is printed when they are done. (One after another the whole suite took 15 minutes.)
started=$SECONDS
background=.test-v2-legs.log
# No earlier run's output may be replayed (and counted) for a leg that did not get to run this time.
rm -f "$background" .test-v2.out .test-unit-v2.out
( nice -n 10 bash -c 'bash scripts/uml/test-v2.sh > .test-v2.out 2>&1; echo "v2 rc $?"; bash tests/deploy/unit-v2.sh > .test-unit-v2.out 2>&1; echo "unit-v2 rc $?"' > "$background" 2>&1 ) &
v2_pid=$!
leg typecheck bash -c 'npx tsc -p tsconfig.check.json && echo "1 passed, 0 failed"'
leg container bash container/test.sh
# vitest's own exit status counts too: a test file that cannot load is a failed suite with no failed test,
# and a vitest that dies writes no results (the stale file of an earlier run must not be read instead).
leg main bash -c 'rm -f .vitest-results.json; npx vitest run --reporter=default --reporter=json --outputFile=.vitest-results.json; rc=$?; node scripts/test-summary.mjs .vitest-results.json || rc=1; exit $rc'
# The API suite again in distributed mode (issue 12): each startService is 2 API processes (`confine serve
# --role api`) and 2 workers (`confine worker`) on a real redis-server, behind a round-robin front.
leg cluster bash -c 'rm -f .vitest-cluster-results.json; CONFINE_TEST_TOPOLOGY=cluster npx vitest run $0 --reporter=default --reporter=json --outputFile=.vitest-cluster-results.json; rc=$?; node scripts/test-summary.mjs .vitest-cluster-results.json || rc=1; exit $rc' "$CLUSTER_API_FILES"
waited=$SECONDS
wait "$v2_pid"
echo "(waited $((SECONDS - waited)) s for the cgroup v2 legs)"
replay() { cat "$1"; grep -q "^$2 rc 0$" "$background"; }
leg v2 replay .test-v2.out v2
leg unit-v2 replay .test-unit-v2.out unit-v2

echo
echo "=== make test: $((SECONDS - started)) s"
printf '%s\n' "${summary[@]}"
if [ "$total_skipped" -gt 0 ]; then
  echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
else
  echo "$total_passed passed, $total_failed failed"
fi
[ "$total_failed" = 0 ] && [ "$total_passed" -gt 0 ]
