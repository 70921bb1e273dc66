# Guest job (scripts/uml/run-guest.sh; POSIX sh, run as root in a pure cgroup v2 guest): confine started as
# deploy/systemd/confine.service places and confines it: in system.slice/confine.service with the
# controllers delegated by the slice (Delegate=yes), inside the unit's sandbox as tests/deploy/unit-sandbox.sh
# reproduces it. Then jails over HTTP (hello, memory and pids limits enforced by v2, a terraform plan), the
# cgroup layout the unit promises (the unit's own cgroup left empty, the service in confine-supervisor, job
# groups beside it), and a stop that exits 0 and leaves no job group.
# Writes "CHECK pass|FAIL <name> <detail>" lines and /run/tb/deploy-summary ("<passed> <failed>").
# CPU quota is not enforced in wall terms under UML: nothing here asserts it.
. /run/tb/uml/lib.sh
cd /run/tb/repo
systemd_layout
U=$(delegated_unit confine.service)
KEY_A=unit-alpha-0123456789abcdef
KEY_B=unit-bravo-0123456789abcdef
cat > /run/confine.env <<EOF
API_KEYS=alpha:$KEY_A,bravo:$KEY_B
LOG_LEVEL=warn
SHUTDOWN_GRACE_SECONDS=5
EOF
BASE=http://127.0.0.1:8000 # the unit's Environment=

# $1 key, $2 path, $3 JSON body; prints the reply
post() { curl -s --max-time 300 -X POST "$BASE$2" -H "X-API-Key: $1" -H 'Content-Type: application/json' -d "$3"; }
# $1 reply JSON, $2 dotted path (result.run.exit_reason)
field() { node -e 'let v; try { v = JSON.parse(process.argv[1]); for (const k of process.argv[2].split(".")) v = v?.[k]; } catch { v = "no-json"; } console.log(typeof v === "string" ? v.trim() : String(v))' "$1" "$2"; }

s=$(date +%s%N)
UNIT_ENV_FILE=/run/confine.env tests/deploy/unit-sandbox.sh deploy/systemd/confine.service "$U" \
  node dist/cli/main.js serve > /run/serve.log 2>&1 &
SERVICE=$!
ready=""
for _ in $(seq 1 600); do
  kill -0 $SERVICE 2>/dev/null || break
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/ready")" = 200 ] && { ready=yes; break; }
  sleep 0.2
done
[ -n "$ready" ]
check unit_service_becomes_ready $? "$(ms_since $s) ms $(tail -3 /run/serve.log | tr '\n' ' ')"
[ -z "$ready" ] && { echo "$PASSED $FAILED" > /run/tb/deploy-summary; exit 1; }

delegated() {
  [ -z "$(cat "$U/cgroup.procs")" ] && grep -qx "$SERVICE" "$U/confine-supervisor/cgroup.procs" || return 1
  for c in memory pids cpu; do grep -qw $c "$U/cgroup.subtree_control" || return 1; done
}
delegated
check unit_cgroup_is_left_to_the_service_with_controllers_delegated $? \
  "unit procs=[$(tr '\n' ' ' < "$U/cgroup.procs")] supervisor=[$(tr '\n' ' ' < "$U/confine-supervisor/cgroup.procs")] subtree_control=[$(cat "$U/cgroup.subtree_control")]"
# 0x2001e3: CHOWN DAC_OVERRIDE KILL SETGID SETUID SETPCAP SYS_ADMIN, the unit's CapabilityBoundingSet=.
grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$SERVICE/status && grep -q '^CapBnd:[[:space:]]*00000000002001e3' /proc/$SERVICE/status
check unit_service_runs_with_the_unit_capability_bounding_set_and_no_new_privs $? "$(grep -E '^(CapBnd|NoNewPrivs)' /proc/$SERVICE/status | tr '\n' ' ')"

r=$(post $KEY_A '/api/v1/runs/commands?wait=true' '{"command":"echo hello"}')
[ "$(field "$r" result.run.stdout)" = hello ]
check unit_command_run_answers $? "$(echo "$r" | head -c 300)"

# A job group beside the supervisor while a jail runs.
post $KEY_B '/api/v1/runs/scripts' '{"script":"while :; do :; done\n","timeout_seconds":4}' > /dev/null
seen=""
for _ in $(seq 1 50); do
  # (cgroup files report size 0: read them, `test -s` would always fail)
  for d in "$U"/confine/*/; do [ -n "$(cat "${d}cgroup.procs" 2>/dev/null)" ] && seen=$d && break 2; done
  sleep 0.1
done
[ -n "$seen" ]
check unit_jail_runs_in_a_job_group_beside_the_supervisor $? "${seen#$C} (groups: $(find "$U" -mindepth 1 -maxdepth 2 -type d | sed "s#^$U/##" | tr '\n' ' '))"

r=$(post $KEY_A '/api/v1/runs/scripts?wait=true' '{"script":"x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done\n","memory_mib":64,"timeout_seconds":30}')
[ "$(field "$r" result.run.exit_reason)" = memory_limit ]
check unit_memory_limit_is_enforced $? "exit_reason=$(field "$r" result.run.exit_reason)"

r=$(post $KEY_A '/api/v1/runs/scripts?wait=true' '{"script":"f() { f | f; }; f\n","max_pids":16,"timeout_seconds":10}')
e=$(field "$r" result.run.exit_reason); [ "$e" = pids_limit ] || [ "$e" = timeout ]
check unit_pids_limit_stops_a_fork_bomb $? "exit_reason=$e"

r=$(post $KEY_B '/api/v1/runs/terraform?wait=true' '{"mode":"plan","files":{"main.tf":"resource \"terraform_data\" \"a\" {\n  input = \"v2\"\n}\n"}}')
[ "$(field "$r" state)" = succeeded ] && [ "$(field "$r" result.summary.add)" = 1 ]
check unit_terraform_plan_succeeds $? "state=$(field "$r" state) $(echo "$r" | head -c 200)"

# systemctl stop: SIGTERM to the main process (KillMode=mixed); the service drains and exits 0.
kill -TERM $SERVICE
wait $SERVICE
rc=$?
[ $rc = 0 ]
check unit_stop_exits_0 $? "rc=$rc $(tail -3 /run/serve.log | tr '\n' ' ')"
left=$(find "$U/confine" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
[ "$left" = 0 ] && [ -z "$(cat "$U/confine-supervisor/cgroup.procs" 2>/dev/null)" ]
check unit_stop_leaves_no_job_group_or_process $? "job groups left: $left"

echo "$PASSED $FAILED" > /run/tb/deploy-summary
echo "deploy unit checks: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
