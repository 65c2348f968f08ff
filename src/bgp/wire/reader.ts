/**
 * A bounds-checked read cursor over one message (or one field of it). Reading past `end` never
 * throws and never touches bytes past it: it returns 0 and sets `overrun`, which the caller checks
 * once after a group of reads. That keeps decoders free of exceptions whatever the input.
 */
export class Reader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
  overrun = false;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private take(n: number): boolean {
    if (this.pos + n > this.end) {
      this.overrun = true;
      this.pos = this.end;
      return false;
    }
    return true;
  }

  u8(): number {
    if (!this.take(1)) return 0;
    return this.buf[this.pos++];
  }

  u16(): number {
    if (!this.take(2)) return 0;
    const b = this.buf;
    const v = (b[this.pos] << 8) | b[this.pos + 1];
    this.pos += 2;
    return v;
  }

  u32(): number {
    if (!this.take(4)) return 0;
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }

  /** A view (not a copy) of the next n bytes; empty on overrun. */
  bytes(n: number): Uint8Array {
    if (!this.take(n)) return this.buf.subarray(this.end, this.end);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
}
