// Directory intake (CLI): walks with lstat and never follows a link; links and devices are rejected
// (threat row 23) rather than skipped, so what runs is exactly what the user sees.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError } from '../../errors.js';
import type { UploadCollector } from './collector.js';

export async function readDirectory(root: string, collector: UploadCollector): Promise<void> {
  const top = await lstat(root).catch(() => {
    throw new DomainError('validation_error', 'upload directory not found', root);
  });
  if (!top.isDirectory()) throw new DomainError('validation_error', 'upload path is not a directory', root);
  await walk(root, '', collector);
}

async function walk(root: string, relative: string, collector: UploadCollector): Promise<void> {
  const names = (await readdir(join(root, relative))).sort();
  for (const name of names) {
    const rel = relative === '' ? name : `${relative}/${name}`;
    const info = await lstat(join(root, rel));
    if (info.isSymbolicLink()) throw new DomainError('security_violation', 'upload contains a symlink', rel);
    if (info.isDirectory()) {
      if (collector.admitPath(rel, true) !== undefined) await walk(root, rel, collector);
      continue;
    }
    if (!info.isFile()) throw new DomainError('security_violation', 'upload contains a device, FIFO or socket', rel);
    if (info.nlink > 1) throw new DomainError('security_violation', 'upload contains a hardlink', rel);
    const path = collector.admitPath(rel, false);
    if (path === undefined) continue;
    collector.checkSize(rel, info.size, info.size);
    collector.addFile(path, await readFile(join(root, rel)));
  }
}
