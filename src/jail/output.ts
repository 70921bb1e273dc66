/**
 * Collects a stream up to a byte cap; reports the first byte past the cap so the run can be stopped.
 * With a sink, chunks are handed on as they arrive instead of being kept (large outputs such as plan JSON
 * never sit whole in the service's memory); the cap holds all the same.
 */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(
    private readonly capBytes: number,
    private readonly onOverflow: () => void,
    private readonly sink?: (chunk: Buffer) => void,
  ) {}

  get bytes(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (this.truncated) return;
    const room = this.capBytes - this.size;
    if (chunk.length > room) {
      this.keep(chunk.subarray(0, Math.max(0, room)));
      this.size = this.capBytes;
      this.truncated = true;
      this.onOverflow();
      return;
    }
    this.keep(chunk);
    this.size += chunk.length;
  }

  private keep(chunk: Buffer): void {
    if (this.sink) this.sink(chunk);
    else this.chunks.push(chunk);
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
