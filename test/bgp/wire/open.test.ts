import { describe, expect, it } from 'vitest';
import { decodeOpen, encodeOpen } from '../../../src/bgp/wire/open.ts';
import type { Capability, OpenMessage } from '../../../src/bgp/wire/types.ts';

const base: OpenMessage = { type: 'open', version: 4, myAsn: 65001, holdTime: 90, bgpId: 1, capabilities: [] };

describe('encodeOpen', () => {
  it('sends AS_TRANS in My Autonomous System for a 4-octet ASN (RFC 6793 4.1)', () => {
    const r = decodeOpen(encodeOpen({ ...base, myAsn: 4200000000, capabilities: [{ kind: 'four-octet-as', asn: 4200000000 }] }));
    expect(r.ok && r.value.myAsn).toBe(23456);
  });

  it('needs RFC 9072 extended optional parameters for more than 255 octets of capabilities', () => {
    const small: Capability[] = Array.from({ length: 45 }, (_, i) => ({ kind: 'unknown', code: 201, value: Uint8Array.of(i, 0) }));
    const r = decodeOpen(encodeOpen({ ...base, capabilities: small }));
    expect(r.ok && r.value.capabilities).toEqual(small);
    const big: Capability[] = Array.from({ length: 70 }, (_, i) => ({ kind: 'unknown', code: 201, value: Uint8Array.of(i, 0) }));
    expect(() => encodeOpen({ ...base, capabilities: big })).toThrow(/RFC 9072/);
    const r2 = decodeOpen(encodeOpen({ ...base, capabilities: big, extendedOptionalParameters: true }));
    expect(r2.ok && r2.value).toMatchObject({ capabilities: big, extendedOptionalParameters: true });
  });

  it('refuses a graceful restart time that does not fit 12 bits', () => {
    const gr: Capability = { kind: 'graceful-restart', restarting: false, notification: false, restartTime: 5000, families: [] };
    expect(() => encodeOpen({ ...base, capabilities: [gr] })).toThrow(expect.objectContaining({ code: 'invalid-field' }));
  });
});
