# Guest job for scripts/uml/run-guest.sh (run by container/test-v2.sh): confine's image under rootful podman
# + crun on a pure cgroup v2 kernel, with the documented privileges (RUNDIR/privileges), the container placed
# by podman's cgroupfs manager below systemd's layout. Needs DISK_MB (podman's overlay storage refuses
# tmpfs and hostfs), RUNDIR/image.want (the image id) and RUNDIR/confine.tar (`podman save` of the image)
# unless the kept disk already holds that image, RUNDIR/checks (container/checks).
# Prints `ok <name> <detail>` / `not-ok <name> <detail>` lines.
. /run/tb/uml/lib.sh
T=/run/tb
IMAGE=localhost/confine:shell
mount /dev/ubda /var/lib/containers || { echo "not-ok guest_storage no /dev/ubda: run with DISK_MB"; exit 1; }
mount -t tmpfs vartmp /var/tmp
modprobe overlay 2>/dev/null || insmod "/usr/lib/uml/modules/$(uname -r)/kernel/fs/overlayfs/overlay.ko" 2>/dev/null || true
export CONTAINERS_CONF=$T/guest-containers.conf
systemd_layout
s=$(date +%s%N)
if [ ! -f $T/confine.tar ] && [ "$(podman image inspect -f '{{.Id}}' $IMAGE 2>/dev/null)" = "$(cat $T/image.want)" ]; then
  echo "ok image_present_in_the_guest_storage $(ms_since $s) ms (kept disk, same image id)"
elif podman load -q -i $T/confine.tar >/dev/null 2>$T/load.err; then echo "ok image_loads_in_the_guest $(ms_since $s) ms"
else echo "not-ok image_loads_in_the_guest $(tail -2 $T/load.err | tr '\n' ' ')"; exit 1; fi
echo "info podman $(podman info --format 'runtime={{.Host.OCIRuntime.Name}} cgroups={{.Host.CgroupsVersion}}/{{.Host.CgroupManager}} graph={{.Store.GraphDriverName}}')"
PRIVS=$(cat $T/privileges)
s=$(date +%s%N)
# shellcheck disable=SC2086 # PRIVS is a list of options
podman run --rm --network=none $PRIVS -v $T/checks:/checks:ro $IMAGE sh /checks/cli.sh exec_echo memory pids timeout plan 2>&1 \
  | sed -n 's/^\(ok\|not-ok\) \([^ ]*\)/\1 v2_documented_privileges_\2/p'
echo "info CLI checks: $(ms_since $s) ms"
# The service itself (entrypoint, then `confine serve`) placed by podman below systemd's layout.
s=$(date +%s%N)
# shellcheck disable=SC2086
bash $T/checks/service.sh $IMAGE $PRIVS 2>&1 | sed -n 's/^\(ok\|not-ok\) \([^ ]*\)/\1 v2_service_\2/p'
echo "info service checks: $(ms_since $s) ms"
# One capability fewer: the entrypoint refuses on v2 as on v1.
NOADMIN=$(echo "$PRIVS" | sed 's/SYS_ADMIN,//')
# shellcheck disable=SC2086
out=$(podman run --rm --network=none $NOADMIN $IMAGE confine --help 2>&1); rc=$?
case "$rc $out" in "78 "*"missing capabilities: SYS_ADMIN"*) echo "ok v2_without_SYS_ADMIN_the_entrypoint_refuses" ;;
  *) echo "not-ok v2_without_SYS_ADMIN_the_entrypoint_refuses rc=$rc $(echo "$out" | tail -1)" ;; esac
# The entrypoint's v2 steps: the container's cgroup made writable, every process moved to a leaf, the
# controllers enabled for its children (what the service's v2 driver needs).
# shellcheck disable=SC2086
layout=$(podman run --rm --network=none $PRIVS $IMAGE sh -c 'cat /proc/self/cgroup; cat /sys/fs/cgroup/cgroup.subtree_control; grep " /sys/fs/cgroup " /proc/mounts' 2>&1)
case $layout in *"0::/confine-supervisor"*"memory pids"*"cgroup2 rw"*|*"0::/confine-supervisor"*"cpu memory pids"*"cgroup2 rw"*)
  echo "ok v2_entrypoint_moves_itself_to_a_leaf_and_enables_controllers $(echo "$layout" | tr '\n' ' ')" ;;
  *) echo "not-ok v2_entrypoint_moves_itself_to_a_leaf_and_enables_controllers $(echo "$layout" | tr '\n' ' ')" ;; esac
# Without a private cgroup namespace the host's hierarchy would be in view: the entrypoint refuses rather
# than make it writable.
NOPRIVATE=$(echo "$PRIVS" | sed 's/--cgroupns=private//')
# shellcheck disable=SC2086
out=$(podman run --rm --network=none --cgroupns=host $NOPRIVATE $IMAGE confine --help 2>&1); rc=$?
case "$rc $out" in "78 "*"--cgroupns=private"*) echo "ok v2_without_a_private_cgroupns_the_entrypoint_refuses $(echo "$out" | head -1)" ;;
  *) echo "not-ok v2_without_a_private_cgroupns_the_entrypoint_refuses rc=$rc $(echo "$out" | tail -1)" ;; esac
