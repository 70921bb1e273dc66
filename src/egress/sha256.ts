// The SHA-256 the SigV4 signer needs (its `ChecksumConstructor`), on node:crypto; with a secret it is
// the HMAC-SHA256 the signer derives its keys with.
import { createHash, createHmac, type Hash as NodeHash, type Hmac } from 'node:crypto';
import type { Checksum, SourceData } from '@smithy/types';

export class Sha256 implements Checksum {
  private hash: NodeHash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): NodeHash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
