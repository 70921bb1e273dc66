/** Collects a stream up to a byte cap; reports the first byte past the cap so the run can be stopped. */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(
    private readonly capBytes: number,
    private readonly onOverflow: () => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.truncated) return;
    const room = this.capBytes - this.size;
    if (chunk.length > room) {
      this.chunks.push(chunk.subarray(0, Math.max(0, room)));
      this.size = this.capBytes;
      this.truncated = true;
      this.onOverflow();
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
