/**
 * A minimal pcap writer for checking our bytes with an independent dissector: each payload becomes
 * one TCP segment (Ethernet, IPv4, TCP, no options) from 192.0.2.1:40179 to 192.0.2.2:179, with
 * consecutive sequence numbers so that tshark reassembles messages split across segments.
 */
function ipChecksum(b: Uint8Array, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i < len; i += 2) sum += (b[off + i] << 8) | b[off + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function pcapOfTcpSegments(segments: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const global = new DataView(new ArrayBuffer(24));
  global.setUint32(0, 0xa1b2c3d4, true); // magic, microsecond timestamps
  global.setUint16(4, 2, true);
  global.setUint16(6, 4, true);
  global.setUint32(16, 65535, true); // snaplen
  global.setUint32(20, 1, true); // LINKTYPE_ETHERNET
  parts.push(new Uint8Array(global.buffer));
  let seq = 1000;
  segments.forEach((payload, i) => {
    const frameLen = 14 + 20 + 20 + payload.length;
    const rec = new Uint8Array(16 + frameLen);
    const dv = new DataView(rec.buffer);
    dv.setUint32(0, 1_700_000_000 + i, true);
    dv.setUint32(8, frameLen, true);
    dv.setUint32(12, frameLen, true);
    const f = 16;
    rec.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], f); // dst MAC, src MAC, IPv4
    const ip = f + 14;
    rec.set([0x45, 0, (20 + 20 + payload.length) >> 8, (20 + 20 + payload.length) & 255, 0, i & 255, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2], ip);
    dv.setUint16(ip + 10, ipChecksum(rec, ip, 20));
    const tcp = ip + 20;
    dv.setUint16(tcp, 40179);
    dv.setUint16(tcp + 2, 179);
    dv.setUint32(tcp + 4, seq);
    dv.setUint32(tcp + 8, 1);
    rec[tcp + 12] = 5 << 4; // data offset: 20 octets
    rec[tcp + 13] = 0x18; // PSH, ACK
    dv.setUint16(tcp + 14, 65535);
    rec.set(payload, tcp + 20);
    seq += payload.length;
    parts.push(rec);
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}
