#!/bin/sh
# PID 1 of the cgroup v2 guest (User-Mode Linux; see run-guest.sh). The root is the host's / read-only
# (hostfs). The run directory holding this script is mounted read-write at /run/tb; the job /run/tb/job.sh
# runs as root in the root cgroup of a pure cgroup2 hierarchy; its output goes to /run/tb/job.log, then
# /run/tb/job.rc gets "<exit code> <milliseconds>" and the guest powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
D=$(dirname "$0")
mount -t proc proc /proc || echo "guest-init: mounting /proc failed"
mount -t sysfs sys /sys
grep -q devtmpfs /proc/mounts || mount -t devtmpfs dev /dev
mount -t tmpfs -o mode=755 run /run
mount -t tmpfs -o mode=1777 tmp /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
# nsdelegate: what systemd mounts; cgroup namespaces become delegation boundaries (as in containers).
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
# The service's state directory (workspaces are tmpfs mounts below it): the host's copy is read-only here.
mount -t tmpfs -o mode=711 confine /var/lib/confine
ip link set lo up 2>/dev/null || busybox ip link set lo up
mkdir -p /run/tb
mount -t hostfs -o "$D" hostfs /run/tb
export GUEST=uml HOME=/tmp/home; mkdir -p $HOME
cd /run/tb
t0=$(date +%s%N)
sh /run/tb/job.sh > /run/tb/job.log 2>&1
rc=$?
t1=$(date +%s%N)
echo "$rc $(( (t1-t0)/1000000 ))" > /run/tb/job.rc
echo "guest-init: job rc=$rc in $(( (t1-t0)/1000000 )) ms"
sync
busybox poweroff -f
