import { describe, expect, it } from 'vitest';
import { negotiateCodecContext } from '../../../src/bgp/wire/negotiate.ts';
import type { Capability, OpenMessage } from '../../../src/bgp/wire/types.ts';

const open = (capabilities: Capability[]): OpenMessage => ({ type: 'open', version: 4, myAsn: 65001, holdTime: 90, bgpId: 1, capabilities });

describe('negotiateCodecContext', () => {
  it('enables 4-octet AS and extended message only when both sides sent them', () => {
    const both = negotiateCodecContext(open([{ kind: 'four-octet-as', asn: 1 }, { kind: 'extended-message' }]), open([{ kind: 'four-octet-as', asn: 2 }, { kind: 'extended-message' }]), false);
    expect([both.fourOctetAs, both.extendedMessage]).toEqual([true, true]);
    const one = negotiateCodecContext(open([{ kind: 'four-octet-as', asn: 1 }, { kind: 'extended-message' }]), open([]), true);
    expect([one.fourOctetAs, one.extendedMessage, one.ebgp]).toEqual([false, false, true]);
  });

  it('matches add-path send against the peer’s receive per family (RFC 7911 5)', () => {
    const local = open([{ kind: 'add-path', families: [{ afi: 1, safi: 1, sendReceive: 3 }, { afi: 2, safi: 1, sendReceive: 2 }] }]);
    const remote = open([{ kind: 'add-path', families: [{ afi: 1, safi: 1, sendReceive: 2 }, { afi: 2, safi: 1, sendReceive: 3 }] }]);
    const ctx = negotiateCodecContext(local, remote, false);
    expect([...ctx.addPathReceive]).toEqual(['1/1']);
    expect([...ctx.addPathSend]).toEqual(['2/1']);
  });

  it('enables extended next hop for a family both sides listed (RFC 8950)', () => {
    const enh: Capability = { kind: 'extended-next-hop', entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] };
    expect([...negotiateCodecContext(open([enh]), open([enh]), false).extendedNextHop]).toEqual(['1/1']);
    expect([...negotiateCodecContext(open([enh]), open([]), false).extendedNextHop]).toEqual([]);
  });
});
