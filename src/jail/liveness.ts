/** Whether a host process exists (used to tell a live owner from a crashed predecessor). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Names of leftovers are `<owner pid>-<id>`; an entry is stale when its owner is gone. */
export function ownerPidOf(name: string): number | undefined {
  const match = /^(\d+)-/.exec(name);
  return match ? Number(match[1]) : undefined;
}

export function isStale(name: string): boolean {
  const pid = ownerPidOf(name);
  return pid !== undefined && !processAlive(pid);
}
