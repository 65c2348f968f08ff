// Every golden fixture three ways (mqtt-packet style): decode, encode, decode(encode(x)) == x.
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../../src/bgp/wire/message.ts';
import { FIXTURES, hex, toHex } from './fixtures.ts';

describe.each(FIXTURES)('$name', (f) => {
  const bytes = hex(f.hex);

  it('decodes to the expected message, with no errors', () => {
    const r = decodeMessage(bytes, f.ctx);
    expect(r.ok ? null : r.error).toBeNull();
    if (!r.ok) return;
    expect(r.value).toEqual(f.message);
    if (r.update) expect(r.update.errors).toEqual([]);
  });

  it('encodes to the golden bytes', () => {
    const out = f.encode ? f.encode() : encodeMessage(f.message, f.ctx);
    expect(toHex(out)).toBe(toHex(bytes));
  });

  it('decodes its own encoding to the same message', () => {
    const r = decodeMessage(encodeMessage(f.message, f.ctx), f.ctx);
    expect(r.ok && r.value).toEqual(f.message);
  });
});
