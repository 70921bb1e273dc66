# Guest job for `make test-v2` (scripts/uml/test-v2.sh): confine on a pure cgroup v2 hierarchy, placed as
# systemd places it. Writes "CHECK pass|FAIL <name> <detail>" lines and /run/tb/summary ("<passed> <failed>").
#   1. The CLI from a delegated unit cgroup (system.slice/confine-cli.service): hello, memory_limit,
#      pids_limit, doctor; from a delegated transient scope (systemd-run --scope -p Delegate=yes); and
#      refused, with the documented message, from a login session scope, from a cgroup whose parent does not
#      delegate the controllers, from a read-only cgroupfs, and beside a process that is not the service's.
#   2. `vitest run tests/jail` with the test runner in system.slice/confine.service (a unit, delegated).
#   3. A smaller jail set with the runner in the hierarchy's root cgroup (V2_ROOT_TESTS).
# CPU quota is accounted but not enforced in wall terms under UML: nothing here asserts it.
. /run/tb/uml/lib.sh
cd /run/tb/repo
export CONFINE_TEST_STATE_DIR=/tmp/confine-test-state
echo "kernel $(uname -r) guest=$GUEST cpus=$(nproc) cgroup2 controllers: $(cat $C/cgroup.controllers)"
systemd_layout

field() { # $1 = JSON file, $2 = run field
  node -e 'try { const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = (r.run ?? {})[process.argv[2]]; console.log(typeof v === "string" ? v.trim() : String(v)); } catch { console.log("no-json"); }' "$1" "$2"
}
runx() { # $1 = cgroup to start in, $2 = label, then the command; leaves /tmp/LABEL.out, /tmp/LABEL.err and RC
  cg=$1; label=$2; shift 2
  s=$(date +%s%N)
  run_in "$cg" "$@" > /tmp/$label.out 2> /tmp/$label.err
  RC=$?
  echo "  [$label] $* (started in ${cg#$C}): rc=$RC $(ms_since $s) ms"
}
CONFINE=./bin/confine

printf 'echo hello\n' > /tmp/ok.sh
printf 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done\n' > /tmp/mem.sh
printf 'f() { f | f; }; f\n' > /tmp/bomb.sh

echo "== 1. the CLI"
U=$(delegated_unit confine-cli.service)
runx "$U" hello $CONFINE exec --json --timeout 20 --script /tmp/ok.sh
[ "$RC" = 0 ] && [ "$(field /tmp/hello.out stdout)" = hello ]
check cli_hello_from_a_delegated_unit $? "exit_reason=$(field /tmp/hello.out exit_reason) stdout='$(field /tmp/hello.out stdout)' $(head -c 300 /tmp/hello.err)"
grep -q memory "$U/cgroup.subtree_control" && [ -z "$(cat "$U/cgroup.procs")" ] && [ -d "$U/confine-supervisor" ]
check cli_unit_cgroup_is_left_empty_with_controllers_enabled $? "subtree_control=[$(cat "$U/cgroup.subtree_control")] procs=[$(tr '\n' ' ' < "$U/cgroup.procs")]"
# A restarted unit: its cgroup keeps its controllers, so the manager starts the new main process in the leaf
# (systemd >= 254: DelegateSubgroup=confine-supervisor); confine then uses the leaf's parent.
runx "$U/confine-supervisor" memory $CONFINE exec --json --memory 64 --timeout 20 --script /tmp/mem.sh
[ "$(field /tmp/memory.out exit_reason)" = memory_limit ]
check cli_memory_limit_from_a_delegated_unit $? "exit_reason=$(field /tmp/memory.out exit_reason) peak=$(field /tmp/memory.out peak_memory_bytes) $(head -c 300 /tmp/memory.err)"
U2=$(delegated_unit confine-cli2.service)
runx "$U2" pids $CONFINE exec --json --pids 16 --timeout 10 --script /tmp/bomb.sh
r=$(field /tmp/pids.out exit_reason); [ "$r" = pids_limit ] || [ "$r" = timeout ]
check cli_pids_limit_from_a_delegated_unit $? "exit_reason=$r $(head -c 300 /tmp/pids.err)"
runx "$(delegated_unit confine-doctor.service)" doctor $CONFINE doctor
grep -q "cgroup delegation" /tmp/doctor.out && [ "$RC" = 0 ]
check cli_doctor_from_a_delegated_unit $? "rc=$RC"; sed 's/^/    /' /tmp/doctor.out

S=$(delegated_scope r1)
runx "$S" scope $CONFINE exec --json --timeout 20 --script /tmp/ok.sh
[ "$RC" = 0 ] && [ "$(field /tmp/scope.out stdout)" = hello ]
check cli_hello_from_a_delegated_scope $? "exit_reason=$(field /tmp/scope.out exit_reason) $(head -c 300 /tmp/scope.err)"

L=$(session_scope 1)
# A login shell in the session scope (as sshd or login put it there) runs the CLI as its child.
runx "$L" session sh -c "$CONFINE exec --json --timeout 20 --script /tmp/ok.sh"
grep -q "login session scope /user.slice/user-0.slice/session-1.scope" /tmp/session.err && grep -q "systemd-run --scope -p Delegate=yes" /tmp/session.err && [ "$RC" = 1 ] && [ ! -s /tmp/session.out ]
check cli_refused_from_a_login_session_scope $? "rc=$RC"; sed 's/^/    stderr: /' /tmp/session.err
[ ! -d "$L/confine" ] && [ ! -d "$L/confine-supervisor" ] && [ -z "$(cat "$L/cgroup.subtree_control")" ]
check cli_session_scope_left_untouched $? "$(ls "$L" | grep confine | tr '\n' ' ')"
runx "$L" sessiondoctor sh -c "$CONFINE doctor"
grep -q "systemd-run --scope -p Delegate=yes" /tmp/sessiondoctor.out && [ "$RC" = 1 ]
check cli_doctor_from_a_login_session_scope_gives_the_advice $? "rc=$RC"; grep -i -e cgroup -e jail /tmp/sessiondoctor.out | sed 's/^/    /'

mkdir -p $C/system.slice/plain.slice/undelegated.service   # plain.slice enables no controllers for its children
runx $C/system.slice/plain.slice/undelegated.service nodeleg $CONFINE exec --json --timeout 20 --script /tmp/ok.sh
grep -q "lacks the memory, pids, cpu controllers" /tmp/nodeleg.err && [ "$RC" = 1 ]
check cli_refused_where_the_parent_does_not_delegate_controllers $? "rc=$RC"; sed 's/^/    stderr: /' /tmp/nodeleg.err

R=$(delegated_unit readonly.service)
runx "$R" readonly unshare -m sh -c "mount -o remount,bind,ro /sys/fs/cgroup && exec $CONFINE exec --json --timeout 20 --script /tmp/ok.sh"
grep -q "read-only cgroup filesystem" /tmp/readonly.err && [ "$RC" = 1 ]
check cli_refused_on_a_read_only_cgroupfs $? "rc=$RC"; sed 's/^/    stderr: /' /tmp/readonly.err

F=$(delegated_unit shared.service)
sh -c 'echo $$ > "$0/cgroup.procs" && exec sleep 300' "$F" & foreign=$!   # started by the job, not by confine
sleep 0.3
runx "$F" foreign $CONFINE exec --json --timeout 20 --script /tmp/ok.sh
grep -q "not this service's: $foreign (sleep)" /tmp/foreign.err && [ "$RC" = 1 ] && grep -qx "$foreign" "$F/cgroup.procs"
check cli_refuses_to_move_a_process_that_is_not_its_own $? "rc=$RC"; sed 's/^/    stderr: /' /tmp/foreign.err
kill $foreign; wait $foreign 2>/dev/null

echo "== 2. vitest run tests/jail, the runner in system.slice/confine.service (delegated unit)"
V=$(delegated_unit confine.service)
s=$(date +%s%N)
run_in "$V" node node_modules/vitest/vitest.mjs run tests/jail --reporter=default --reporter=json --outputFile=/run/tb/unit.json
rc=$?
echo "  vitest (unit placement) rc=$rc in $(ms_since $s) ms; unit cgroup now: procs=[$(cat $V/cgroup.procs | tr '\n' ' ')] subtree_control=[$(cat $V/cgroup.subtree_control)]"

echo "== 3. vitest run ${V2_ROOT_TESTS:=tests/jail/smoke.test.ts tests/jail/cgroup-v2.test.ts tests/jail/agent.test.ts tests/jail/cli.test.ts tests/jail/cgroup-detect.test.ts}, the runner in the root cgroup"
rm -rf /tmp/confine-test-state
s=$(date +%s%N)
run_in "$C" node node_modules/vitest/vitest.mjs run $V2_ROOT_TESTS --reporter=default --reporter=json --outputFile=/run/tb/root.json
rc=$?
echo "  vitest (root placement) rc=$rc in $(ms_since $s) ms"

echo "$PASSED $FAILED" > /run/tb/cli-summary
echo "CLI checks: $PASSED passed, $FAILED failed"
