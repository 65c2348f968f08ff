/**
 * The ingest benchmark's feeder: a minimal BGP speaker that dials a receiver, completes the OPEN
 * exchange, then writes N pre-encoded /24 announcements as fast as the socket takes them, and
 * End-of-RIB. It runs in a namespace of its own (`ip netns exec NS node feeder-child.ts`) and is
 * driven by JSON lines: {"op":"feed","address":..,"asn":..}; it answers with the wall-clock times
 * (ms) at which the session became Established and the last byte was handed to the socket.
 */
import net, { type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { Framer, decodeMessage, defaultCodecContext, encodeAnnouncements, encodeEndOfRib, encodeMessage } from '../../src/bgp/wire/index.ts';
import { Afi, AsPathSegmentType, Origin, Safi } from '../../src/bgp/wire/constants.ts';
import { buildOpen } from '../../src/bgp/session/open.ts';
import { parseIPv4 } from '../../src/bgp/rib/prefix.ts';

const cfg = JSON.parse(process.argv[2]) as { localAddress: string; asn: number; count: number };
const ctx = defaultCodecContext({ fourOctetAs: true, ebgp: true });

function prefixes(n: number) {
  // n consecutive /24s from 16.0.0.0 (inside the benchmark's namespaces only).
  const addrs = new Uint32Array(n);
  const base = parseIPv4('16.0.0.0')!;
  for (let i = 0; i < n; i++) addrs[i] = (base + i * 256) >>> 0;
  return { afi: Afi.IPv4, count: n, addrs, lens: new Uint8Array(n).fill(24), pathIds: null };
}

const updates = encodeAnnouncements(
  { origin: Origin.Igp, asPath: [{ type: AsPathSegmentType.AsSequence, asns: [cfg.asn] }], nextHop: cfg.localAddress },
  prefixes(cfg.count),
  ctx,
);
const sessions = new Map<string, Socket>();
const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

function feed(id: number, address: string, asn: number): void {
  const s = net.connect({ host: address, port: 179, localAddress: cfg.localAddress });
  sessions.set(address, s);
  const framer = new Framer();
  let established = 0;
  let gotOpen = false;
  s.on('error', (e) => out({ id, ok: false, error: e.message }));
  s.on('connect', () => {
    s.write(encodeMessage(buildOpen({ localAsn: cfg.asn, routerId: parseIPv4(cfg.localAddress)!, holdTime: 240, families: [Afi.IPv4] }), ctx));
  });
  s.on('data', (chunk: Buffer) => {
    for (const m of framer.push(chunk).messages) {
      const r = decodeMessage(m, ctx);
      if (!r.ok) continue;
      if (r.value.type === 'open') {
        gotOpen = true;
        s.write(encodeMessage({ type: 'keepalive' }, ctx));
      } else if (r.value.type === 'keepalive' && gotOpen && !established) {
        established = Date.now();
        void send(s).then(() => out({ id, ok: true, result: { established, sent: Date.now(), messages: updates.length } }));
        setInterval(() => s.write(encodeMessage({ type: 'keepalive' }, ctx)), 30_000).unref();
      } else if (r.value.type === 'notification') {
        out({ id, ok: false, error: `NOTIFICATION ${r.value.code}/${r.value.subcode}` });
      }
    }
  });
  void asn;
}

async function send(s: Socket): Promise<void> {
  for (const u of updates) {
    if (!s.write(u)) await new Promise((r) => s.once('drain', r));
  }
  s.write(encodeEndOfRib({ afi: Afi.IPv4, safi: Safi.Unicast }));
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const req = JSON.parse(line) as { id: number; op: string; address?: string; asn?: number };
  if (req.op === 'feed') feed(req.id, req.address!, req.asn!);
  else if (req.op === 'close') {
    sessions.get(req.address!)?.destroy();
    sessions.delete(req.address!);
    out({ id: req.id, ok: true, result: null });
  }
});
out({ ready: true, messages: updates.length });
process.stdin.on('end', () => process.exit(0));
