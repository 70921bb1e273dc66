// Zip intake, parsed in memory with yauzl: nothing is extracted by a tool that could follow links.
// Threat row 23: zip-slip, symlink and device entries, zip bombs (sizes counted from inflated bytes).
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { DomainError } from '../../errors.js';
import type { UploadCollector } from './collector.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const UTF8_FLAG = 0x800;

export async function readZip(data: Buffer, collector: UploadCollector): Promise<void> {
  const zip = await new Promise<ZipFile>((resolve, reject) => {
    // decodeStrings=false: names are validated by our own path rules, not silently rewritten.
    yauzl.fromBuffer(data, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true }, (error, zipfile) =>
      error ? reject(invalidArchive(error)) : resolve(zipfile),
    );
  });
  if (zip.entryCount > collector.limits.maxFiles) {
    zip.close();
    throw new DomainError('security_violation', `upload holds more than ${collector.limits.maxFiles} entries`, `${zip.entryCount} entries`);
  }
  let inflated = 0;
  await new Promise<void>((resolve, reject) => {
    const fail = (error: unknown): void => {
      zip.close();
      reject(error);
    };
    zip.on('error', (error: Error) => fail(invalidArchive(error)));
    zip.on('end', () => resolve());
    zip.on('entry', (entry: Entry) => {
      handleEntry(zip, entry, collector, (bytes) => {
        inflated += bytes;
        collector.checkRatio(data.length, inflated, entryName(entry));
      })
        .then(() => zip.readEntry())
        .catch(fail);
    });
    zip.readEntry();
  });
}

function entryName(entry: Entry): string {
  const raw = entry.fileName as unknown as Buffer;
  return (entry.generalPurposeBitFlag & UTF8_FLAG) !== 0 ? raw.toString('utf8') : raw.toString('latin1');
}

async function handleEntry(zip: ZipFile, entry: Entry, collector: UploadCollector, onBytes: (n: number) => void): Promise<void> {
  const name = entryName(entry);
  const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
  const isDirectory = name.endsWith('/') || mode === S_IFDIR;
  // Archives made on DOS/Windows carry no Unix mode (0); anything else must be a plain file or directory.
  if (mode === S_IFLNK) throw new DomainError('security_violation', 'upload contains a symlink', name);
  if (mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR) {
    throw new DomainError('security_violation', 'upload contains a device, FIFO or socket entry', name);
  }
  if (entry.isEncrypted()) throw new DomainError('validation_error', 'encrypted zip entries are not supported', name);
  const path = collector.admitPath(name, isDirectory);
  if (isDirectory) return;
  collector.checkSize(name, entry.uncompressedSize, entry.uncompressedSize);
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
    zip.openReadStream(entry, (error, readStream) => (error ? reject(invalidArchive(error)) : resolve(readStream))),
  );
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      try {
        onBytes(chunk.length);
        collector.checkSize(name, size, size);
      } catch (error) {
        (stream as unknown as { destroy(): void }).destroy();
        reject(error);
        return;
      }
      if (path !== undefined) chunks.push(chunk);
    });
    stream.on('error', (error: Error) => reject(invalidArchive(error)));
    stream.on('end', () => resolve());
  });
  if (path !== undefined) collector.addFile(path, Buffer.concat(chunks));
}

function invalidArchive(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  const text = error instanceof Error ? error.message : String(error);
  // A header that lies about an entry's size is how bombs slip past size checks (row 23).
  if (/bytes in the stream/.test(text)) return new DomainError('security_violation', 'zip entry size does not match its header', text);
  return new DomainError('validation_error', 'invalid zip archive', error instanceof Error ? error.message : String(error));
}
