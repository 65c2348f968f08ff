/**
 * Splits a TCP byte stream into BGP messages (RFC 4271 4.1). A pure state machine: `push` takes the
 * next chunk and returns the whole messages completed by it. A message inside one chunk is
 * returned as a view of that chunk (no copy), so callers must not reuse chunk buffers; only a
 * message split across chunks is copied, once, into a buffer of its exact size.
 */
import { HEADER_LENGTH } from './constants.ts';
import { checkHeader } from './header.ts';
import type { BgpError } from './types.ts';

export interface FramerOutput {
  /** Whole messages, header included, in order. */
  messages: Uint8Array[];
  /** A header error (RFC 4271 6.1): the NOTIFICATION to send. The framer stops at it for good. */
  error: BgpError | null;
}

export class Framer {
  /** RFC 8654: set once both sides announced extended message. */
  extendedMessage = false;
  private header = new Uint8Array(HEADER_LENGTH);
  private headerFill = 0;
  /** The message being assembled across chunks, and how much of it has arrived. */
  private partial: Uint8Array | null = null;
  private partialFill = 0;
  private failed: BgpError | null = null;

  /** Octets held while waiting for the rest of a message. */
  get buffered(): number {
    return this.partial !== null ? this.partialFill : this.headerFill;
  }

  push(chunk: Uint8Array): FramerOutput {
    const messages: Uint8Array[] = [];
    if (this.failed !== null) return { messages, error: this.failed };
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      if (this.partial !== null) {
        const take = Math.min(this.partial.length - this.partialFill, n - off);
        this.partial.set(chunk.subarray(off, off + take), this.partialFill);
        this.partialFill += take;
        off += take;
        if (this.partialFill === this.partial.length) {
          messages.push(this.partial);
          this.partial = null;
          this.partialFill = 0;
        }
        continue;
      }
      if (this.headerFill > 0 || n - off < HEADER_LENGTH) {
        // Collect a header that straddles chunks.
        const take = Math.min(HEADER_LENGTH - this.headerFill, n - off);
        this.header.set(chunk.subarray(off, off + take), this.headerFill);
        this.headerFill += take;
        off += take;
        if (this.headerFill < HEADER_LENGTH) break;
        const err = checkHeader(this.header, 0, this.extendedMessage);
        if (err !== null) return this.fail(messages, err);
        const length = (this.header[16] << 8) | this.header[17];
        this.partial = new Uint8Array(length);
        this.partial.set(this.header);
        this.partialFill = HEADER_LENGTH;
        this.headerFill = 0;
        if (length === HEADER_LENGTH) {
          messages.push(this.partial);
          this.partial = null;
          this.partialFill = 0;
        }
        continue;
      }
      const err = checkHeader(chunk, off, this.extendedMessage);
      if (err !== null) return this.fail(messages, err);
      const length = (chunk[off + 16] << 8) | chunk[off + 17];
      if (n - off >= length) {
        messages.push(chunk.subarray(off, off + length));
        off += length;
      } else {
        this.partial = new Uint8Array(length);
        this.partial.set(chunk.subarray(off));
        this.partialFill = n - off;
        off = n;
      }
    }
    return { messages, error: null };
  }

  private fail(messages: Uint8Array[], error: BgpError): FramerOutput {
    this.failed = error;
    this.partial = null;
    this.headerFill = 0;
    return { messages, error };
  }
}
