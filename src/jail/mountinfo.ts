// /proc/self/mountinfo as data (proc(5)): one parser for the jail layer's questions about mounts.
import { readFile } from 'node:fs/promises';

export interface MountEntry {
  /** Root of the mounted filesystem that is visible at mountPoint. */
  root: string;
  mountPoint: string;
  /** Per-mount options (`rw`, `nosuid`, `noexec`, ...). */
  options: string[];
  fsType: string;
  /** Per-superblock options (for cgroup v1: the controllers). */
  superOptions: string[];
}

export function readMountinfo(): Promise<string> {
  return readFile('/proc/self/mountinfo', 'utf8');
}

/** Pure: the entries of a mountinfo text, in order (later entries are mounted over earlier ones). */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const [fsType, , superOptions] = right.split(' ');
    const [root, mountPoint, options] = [fields[3], fields[4], fields[5]];
    if (!root || !mountPoint || !options || !fsType) continue;
    entries.push({
      root: unescape(root),
      mountPoint: unescape(mountPoint),
      options: options.split(','),
      fsType,
      superOptions: (superOptions ?? '').split(','),
    });
  }
  return entries;
}

/** The entry of the mount holding `path` (the innermost, and the topmost where mounts are stacked). */
export function mountOf(path: string, entries: readonly MountEntry[]): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const entry of entries) {
    const point = entry.mountPoint;
    const inside = point === '/' || path === point || path.startsWith(`${point}/`);
    if (inside && (!best || point.length >= best.mountPoint.length)) best = entry;
  }
  return best;
}

/** mountinfo escapes space, tab, newline and backslash as three-digit octal. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
