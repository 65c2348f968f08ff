import { describe, expect, it } from 'vitest';
import { Framer } from '../../../src/bgp/wire/framer.ts';
import { hex, message, toHex } from './fixtures.ts';

const keepalive = hex(message(4, ''));
const refresh = hex(message(5, '0001 00 01'));
const update = hex(message(2, '0000 0000'));
const stream = Uint8Array.from([...keepalive, ...refresh, ...update, ...keepalive]);

function pushAll(f: Framer, chunks: Uint8Array[]): string[] {
  const out: string[] = [];
  for (const c of chunks) {
    const r = f.push(c);
    expect(r.error).toBeNull();
    out.push(...r.messages.map(toHex));
  }
  return out;
}

const expected = [keepalive, refresh, update, keepalive].map(toHex);

describe('Framer', () => {
  it('splits several messages that arrive in one chunk', () => {
    expect(pushAll(new Framer(), [stream])).toEqual(expected);
  });

  it('reassembles messages delivered one octet at a time', () => {
    const chunks = Array.from(stream, (b) => Uint8Array.of(b));
    const f = new Framer();
    expect(pushAll(f, chunks)).toEqual(expected);
    expect(f.buffered).toBe(0);
  });

  it('reassembles at every possible split point of the stream', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      expect(pushAll(new Framer(), [stream.subarray(0, cut), stream.subarray(cut)])).toEqual(expected);
    }
  });

  it('returns a message that sits inside one chunk as a view of that chunk, not a copy', () => {
    const r = new Framer().push(stream);
    expect(r.messages[1].buffer).toBe(stream.buffer);
    expect(r.messages[1].byteOffset).toBe(keepalive.length);
  });

  it('keeps a partial message until the rest arrives', () => {
    const f = new Framer();
    expect(f.push(refresh.subarray(0, 20)).messages).toEqual([]);
    expect(f.buffered).toBe(20);
    expect(f.push(refresh.subarray(20)).messages.map(toHex)).toEqual([toHex(refresh)]);
  });

  it('reports a bad marker as Connection Not Synchronized (RFC 4271 6.1) and stops', () => {
    const bad = keepalive.slice();
    bad[3] = 0xfe;
    const f = new Framer();
    const r = f.push(Uint8Array.from([...keepalive, ...bad]));
    expect(r.messages.map(toHex)).toEqual([toHex(keepalive)]);
    expect(r.error).toMatchObject({ code: 1, subcode: 1 });
    expect(f.push(keepalive)).toMatchObject({ messages: [], error: { code: 1, subcode: 1 } });
  });

  it('reports a length under 19 as Bad Message Length with the length as data', () => {
    const bad = keepalive.slice();
    bad[17] = 18;
    expect(new Framer().push(bad).error).toMatchObject({ code: 1, subcode: 2, data: Uint8Array.of(0, 18) });
  });

  it('reports a KEEPALIVE longer than 19 octets as Bad Message Length', () => {
    const bad = hex(message(4, '00'));
    expect(new Framer().push(bad).error).toMatchObject({ code: 1, subcode: 2, data: Uint8Array.of(0, 20) });
  });

  it('reports an unknown type as Bad Message Type with the type as data', () => {
    expect(new Framer().push(hex(message(9, ''))).error).toMatchObject({ code: 1, subcode: 3, data: Uint8Array.of(9) });
  });

  it('refuses an UPDATE over 4096 octets until extended message is negotiated (RFC 8654)', () => {
    const big = new Uint8Array(5000);
    big.fill(0xff, 0, 16);
    big[16] = 5000 >> 8;
    big[17] = 5000 & 255;
    big[18] = 2;
    expect(new Framer().push(big.subarray(0, 19)).error).toMatchObject({ code: 1, subcode: 2 });
    const f = new Framer();
    f.extendedMessage = true;
    const r = f.push(big);
    expect(r.error).toBeNull();
    expect(r.messages).toHaveLength(1);
  });

  it('keeps OPEN at 4096 octets even with extended message', () => {
    const f = new Framer();
    f.extendedMessage = true;
    const head = hex(`${'ff'.repeat(16)} 1400 01`);
    expect(f.push(head).error).toMatchObject({ code: 1, subcode: 2 });
  });

  it('checks a header that straddles two chunks', () => {
    const bad = refresh.slice();
    bad[18] = 0;
    const f = new Framer();
    expect(f.push(bad.subarray(0, 10)).error).toBeNull();
    expect(f.push(bad.subarray(10)).error).toMatchObject({ code: 1, subcode: 3 });
  });
});
