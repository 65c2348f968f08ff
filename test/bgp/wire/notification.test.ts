import { describe, expect, it } from 'vitest';
import { decodeNotification, encodeNotification, notificationName } from '../../../src/bgp/wire/notification.ts';

describe('NOTIFICATION', () => {
  it('names codes and subcodes for logs', () => {
    expect(notificationName(6, 2)).toBe('Cease / Administrative Shutdown');
    expect(notificationName(3, 11)).toBe('UPDATE Message Error / Malformed AS_PATH');
    expect(notificationName(2, 0)).toBe('OPEN Message Error / Unspecific');
    expect(notificationName(9, 9)).toBe('error code 9 / subcode 9');
  });

  it('carries a UTF-8 shutdown communication up to 255 octets (RFC 9003 2)', () => {
    const text = 'Wartung bis 14:00 — ☕'.padEnd(120, '.');
    const bytes = encodeNotification({ type: 'notification', code: 6, subcode: 4, data: new Uint8Array(0), communication: text });
    const r = decodeNotification(bytes);
    expect(r.ok && r.value.communication).toBe(text);
    expect(() => encodeNotification({ type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0), communication: 'x'.repeat(256) })).toThrow(/over 255/);
  });

  it('does not read a communication on subcodes that carry none', () => {
    const bytes = encodeNotification({ type: 'notification', code: 6, subcode: 3, data: Uint8Array.of(2, 0x68, 0x69) });
    const r = decodeNotification(bytes);
    expect(r.ok && r.value.communication).toBeUndefined();
  });
});
