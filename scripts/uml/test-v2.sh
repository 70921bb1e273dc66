#!/usr/bin/env bash
# `make test-v2`: the jail suite and the CLI on a real cgroup v2 kernel (a User-Mode Linux guest, see
# run-guest.sh), with the service placed as systemd places a unit, at the root, and in scopes that are and
# are not delegated (jobs/v2-suite.sh). Prints "N passed, N failed[, N skipped]" and exits non-zero on any
# failure. A machine that cannot boot the guest is NOT a pass: the leg says so loudly and fails, unless
# CONFINE_ALLOW_NO_V2=1 says that is acceptable here.
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
repo=$(cd "$here/../.." && pwd)
run=${V2_RUNDIR:-${TMPDIR:-/tmp}/confine-test-v2}
skip() {
  echo "!! SKIPPED: cgroup v2 leg (make test-v2): $1" >&2
  if [ "${CONFINE_ALLOW_NO_V2:-0}" = 1 ]; then echo "!! CONFINE_ALLOW_NO_V2=1: not counted as a failure" >&2; exit 0; fi
  echo "!! set CONFINE_ALLOW_NO_V2=1 to accept running without it" >&2; exit 1
}
command -v linux.uml >/dev/null || skip "linux.uml not installed (apt-get install user-mode-linux, or make setup)"
rm -rf "$run"; mkdir -p "$run"
t0=$(date +%s)
REPO=$repo MEM=${MEM:-3G} TIMEOUT=${TIMEOUT:-900} "$here/run-guest.sh" "$here/jobs/v2-suite.sh" "$run"
rc=$?
t1=$(date +%s)
[ "$rc" = 3 ] && skip "the guest did not boot or died (see $run/console.log)"
cat "$run/job.log"
count() { # vitest JSON -> "passed failed skipped"
  node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(r.numPassedTests, r.numFailedTests, r.numPendingTests + r.numTodoTests)' "$1" 2>/dev/null || echo "0 1 0"
}
failures() { # vitest JSON -> one line per failed test
  node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); for (const f of r.testResults) for (const t of f.assertionResults) if (t.status === "failed") console.log(`FAILED (${process.argv[2]}): ${f.name.replace(/^.*\/tests\//, "tests/")} > ${t.title}`)' "$1" "$2" 2>/dev/null
}
grep '^CHECK FAIL' "$run/job.log"
failures "$run/unit.json" "unit placement"; failures "$run/root.json" "root placement"
read -r cp cf < "$run/cli-summary" 2>/dev/null || { cp=0; cf=1; }
read -r up uf us < <(count "$run/unit.json")
read -r rp rf rs < <(count "$run/root.json")
echo "cgroup v2 leg ($(( t1 - t0 )) s): CLI checks $cp passed, $cf failed; tests/jail in a unit cgroup $up passed, $uf failed, $us skipped; at the root $rp passed, $rf failed, $rs skipped"
passed=$((cp + up + rp)); failed=$((cf + uf + rf)); skipped=$((us + rs))
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
