# Guest job: the guest boots with a pure cgroup v2 hierarchy and can hold limits (the harness's own check).
. /run/tb/uml/lib.sh
echo "kernel $(uname -r) guest=$GUEST cpus=$(nproc)"
echo "mounts: $(grep cgroup /proc/mounts | tr '\n' ' ')"
ctl=$(cat $C/cgroup.controllers)
r=0; for c in memory pids cpu; do case " $ctl " in *" $c "*) ;; *) r=1;; esac; done
check cgroup2_controllers $r "[$ctl]"
[ -z "$(grep -w cgroup /proc/mounts | grep -v cgroup2)" ]; check no_cgroup_v1_mounts $? ""
systemd_layout
u=$(delegated_unit probe.service)
echo 8 > "$u/pids.max" 2>/dev/null; [ "$(cat "$u/pids.max")" = 8 ]; check unit_pids_max_writable $? ""
if [ -d /run/tb/repo ]; then [ -f /run/tb/repo/package.json ]; check repo_visible $? ""; fi
command -v node >/dev/null && command -v bwrap >/dev/null; check node_and_bwrap $? "$(node --version)"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
