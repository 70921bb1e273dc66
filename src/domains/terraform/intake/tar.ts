// tar.gz intake: gunzip with a hard output cap, then parse entries in memory with `tar`'s Parser (never
// Unpack, which writes to disk). Threat row 23: symlinks, hardlinks, devices, traversal, bombs.
import { gunzipSync } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { DomainError } from '../../errors.js';
import type { UploadCollector } from './collector.js';

const TAR_BLOCK = 512;

export async function readTarGz(data: Buffer, collector: UploadCollector): Promise<void> {
  const { limits } = collector;
  // Room for the files, one header per entry and the end-of-archive blocks; anything more is a bomb.
  const cap = Math.min(limits.maxTotalBytes + (limits.maxFiles + 4) * TAR_BLOCK * 3, Math.max(data.length, 1024) * limits.maxCompressionRatio);
  let tarBytes: Buffer;
  try {
    tarBytes = gunzipSync(data, { maxOutputLength: cap + 1 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw new DomainError('security_violation', `archive expands beyond ${cap} bytes (compression bomb or oversized upload)`, 'tar.gz');
    }
    throw new DomainError('validation_error', 'invalid gzip data', error instanceof Error ? error.message : String(error));
  }
  if (tarBytes.length > cap) {
    throw new DomainError('security_violation', `archive expands beyond ${cap} bytes (compression bomb or oversized upload)`, 'tar.gz');
  }
  await parseTar(tarBytes, collector);
}

async function parseTar(tarBytes: Buffer, collector: UploadCollector): Promise<void> {
  const pending: Promise<void>[] = [];
  let failure: unknown;
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        if (failure !== undefined) {
          entry.resume();
          return;
        }
        pending.push(
          handleEntry(entry, collector).catch((error: unknown) => {
            failure ??= error;
            entry.resume();
          }),
        );
      },
    });
    parser.on('error', (error: Error) => reject(new DomainError('validation_error', 'invalid tar archive', error.message)));
    parser.on('end', () => resolve());
    parser.end(tarBytes);
  });
  await Promise.all(pending);
  if (failure !== undefined) throw failure;
}

function handleEntry(entry: ReadEntry, collector: UploadCollector): Promise<void> {
  const name = entry.path;
  switch (entry.type) {
    case 'SymbolicLink':
      throw new DomainError('security_violation', 'upload contains a symlink', `${name} -> ${entry.linkpath ?? ''}`);
    case 'Link':
      throw new DomainError('security_violation', 'upload contains a hardlink', `${name} -> ${entry.linkpath ?? ''}`);
    case 'Directory':
      collector.admitPath(name, true);
      entry.resume();
      return Promise.resolve();
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      break;
    default:
      throw new DomainError('security_violation', `upload contains a ${entry.type} entry`, name);
  }
  const path = collector.admitPath(name, false);
  collector.checkSize(name, entry.size, entry.size);
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    entry.on('data', (chunk: Buffer) => {
      if (path !== undefined) chunks.push(chunk);
    });
    entry.on('error', (error: unknown) => reject(new DomainError('validation_error', 'invalid tar entry', String(error))));
    entry.on('end', () => {
      try {
        if (path !== undefined) collector.addFile(path, Buffer.concat(chunks));
        resolve();
      } catch (error) {
        reject(error);
      }
    });
  });
}
