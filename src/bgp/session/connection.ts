/**
 * One TCP connection carrying BGP: bytes in through the framer and decoder, messages out through
 * the encoder. A session owns one (two for a moment during a collision). Nothing here decides
 * anything: decoded messages and failures go to the owner's callbacks.
 */
import type { Socket } from 'node:net';
import { Framer, decodeMessage, encodeMessage, defaultCodecContext } from '../wire/index.ts';
import type { BgpError, CodecContext, Message, UpdateDecodeResult } from '../wire/types.ts';

export interface ConnectionEvents {
  /** A message decoded cleanly (for an UPDATE, possibly with RFC 7606 outcomes in `update`). */
  message(msg: Message, update: UpdateDecodeResult | undefined): void;
  /** A message (or the stream) was bad enough to reset the session: the NOTIFICATION to send. */
  error(error: BgpError, update: UpdateDecodeResult | undefined): void;
  /** The connection closed or failed. */
  closed(reason: string): void;
  /** The socket's buffer drained: more can be written. */
  drain(): void;
}

export class Connection {
  readonly socket: Socket;
  readonly outgoing: boolean;
  codec: CodecContext = defaultCodecContext();
  private readonly framer = new Framer();
  private events: ConnectionEvents;
  private open = true;

  constructor(socket: Socket, outgoing: boolean, events: ConnectionEvents) {
    this.socket = socket;
    this.outgoing = outgoing;
    this.events = events;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.open && this.events.drain());
    socket.on('error', (e) => this.fail(`socket error: ${e.message}`));
    socket.on('close', () => this.fail('connection closed by peer'));
    socket.on('end', () => this.fail('connection closed by peer'));
  }

  setEvents(events: ConnectionEvents): void {
    this.events = events;
  }

  /** After OPENs: the negotiated context (4-octet AS, extended message, eBGP). */
  setCodec(ctx: CodecContext): void {
    this.codec = ctx;
    this.framer.extendedMessage = ctx.extendedMessage;
  }

  get isOpen(): boolean {
    return this.open;
  }

  get localAddress(): string | undefined {
    return normalizeAddress(this.socket.localAddress);
  }

  get remoteAddress(): string | undefined {
    return normalizeAddress(this.socket.remoteAddress);
  }

  send(msg: Message): boolean {
    return this.write(encodeMessage(msg, this.codec));
  }

  /** Writes encoded messages; false when the socket's buffer is full (wait for `drain`). */
  write(bytes: Uint8Array): boolean {
    if (!this.open) return false;
    return this.socket.write(bytes);
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  /** Closes after flushing what was written (a NOTIFICATION, typically); events stop now. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), 2000);
    t.unref();
    this.socket.once('close', () => clearTimeout(t));
  }

  private fail(reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.socket.destroy();
    this.events.closed(reason);
  }

  private onData(chunk: Buffer): void {
    if (!this.open) return;
    const out = this.framer.push(chunk);
    for (const m of out.messages) {
      if (!this.open) return;
      const r = decodeMessage(m, this.codec);
      if (r.ok) this.events.message(r.value, r.update);
      else this.events.error(r.error, r.update);
    }
    if (out.error && this.open) this.events.error(out.error, undefined);
  }
}

/** "::ffff:192.0.2.1" (a v4 peer on a dual-stack socket) -> "192.0.2.1". */
export function normalizeAddress(a: string | undefined): string | undefined {
  if (a?.startsWith('::ffff:') && a.includes('.')) return a.slice(7);
  return a;
}
