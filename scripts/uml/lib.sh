# Helpers for guest jobs (POSIX sh): `. /run/tb/uml/lib.sh`. They reproduce where systemd puts processes
# on a cgroup v2 host, without systemd (the guest's PID 1 is a shell script).
C=/sys/fs/cgroup
CONTROLLERS="+memory +pids +cpu"

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# systemd's layout: PID 1 in /init.scope, controllers enabled down the slices. After this the job's own
# shell is in /init.scope too; run things elsewhere with run_in.
systemd_layout() {
  mkdir -p $C/init.scope $C/system.slice $C/user.slice/user-0.slice
  echo 1 > $C/init.scope/cgroup.procs
  echo $$ > $C/init.scope/cgroup.procs
  echo "$CONTROLLERS" > $C/cgroup.subtree_control
  echo "$CONTROLLERS" > $C/system.slice/cgroup.subtree_control
  echo "$CONTROLLERS" > $C/user.slice/cgroup.subtree_control
  echo "$CONTROLLERS" > $C/user.slice/user-0.slice/cgroup.subtree_control
}

# A unit with Delegate=yes: its parent slice enables the controllers for it; the unit's own cgroup (and its
# subtree_control) belongs to the service. Prints the unit's cgroup directory.
delegated_unit() { # $1 = unit name, e.g. confine.service; $2 = slice (default system.slice)
  d=$C/${2:-system.slice}/$1; mkdir -p "$d"; echo "$d"
}

# A login session scope (systemd-logind: user.slice/user-UID.slice/session-N.scope): not delegated.
session_scope() { # $1 = session number
  d=$C/user.slice/user-0.slice/session-$1.scope; mkdir -p "$d"; echo "$d"
}

# A transient scope as `systemd-run --scope -p Delegate=yes` makes it (run-rXXXX.scope in system.slice).
delegated_scope() { # $1 = name
  d=$C/system.slice/run-$1.scope; mkdir -p "$d"; echo "$d"
}

# Runs a command with its process started in the given cgroup (as systemd starts a unit's main process).
run_in() { # $1 = cgroup dir, then the command
  cg=$1; shift
  sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"
}

# Result lines for the harness summary: "CHECK pass|fail <name> <detail>".
PASSED=0; FAILED=0
check() { # $1 = name, $2 = 0 for pass, $3... detail
  name=$1; ok=$2; shift 2
  if [ "$ok" = 0 ]; then PASSED=$((PASSED + 1)); echo "CHECK pass $name $*"; else FAILED=$((FAILED + 1)); echo "CHECK FAIL $name $*"; fi
}
