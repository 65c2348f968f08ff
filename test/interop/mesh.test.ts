/**
 * A full iBGP mesh of three tortie speakers (the nodes), with BIRD as an external router (a ToR)
 * peered to all three over eBGP: pod blocks spread to every node and to BIRD; only the lower
 * address of each node pair dials; AS loops are refused; BIRD cannot hijack the pod range; a node
 * that dies takes its pod block with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, Switch, uniqueName } from '../../src/netns/netns.ts';
import { Bird } from '../../src/lab/peers/bird.ts';
import { SpeakerProcess, eventually } from './harness/speaker-process.ts';

const NODES = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];
const TOR = { v4: '198.51.100.10', asn: 65010 };
const LOCAL_AS = 64512;
const pod = (i: number) => `10.244.${i + 1}.0/26`;

describe('interop: three-node tortie mesh with BIRD peered to all', () => {
  let sw: Switch;
  const ns: Netns[] = [];
  let nsB: Netns;
  const nodes: SpeakerProcess[] = [];
  let bird: Bird;

  beforeAll(async () => {
    sw = await Switch.create(uniqueName('tsw'));
    for (let i = 0; i < 3; i++) {
      ns.push(await Netns.create(uniqueName('tsn')));
      await sw.connect(ns[i], 'eth0', [`${NODES[i]}/24`]);
    }
    nsB = await Netns.create(uniqueName('tsb'));
    await sw.connect(nsB, 'eth0', [`${TOR.v4}/24`]);
    bird = await Bird.start({
      ns: nsB,
      routerId: TOR.v4,
      asn: TOR.asn,
      neighbors: NODES.map((a, i) => ({ name: `node${i + 1}`, address: a, asn: LOCAL_AS, localAddress: TOR.v4, families: ['ipv4' as const] })),
      // The second one overlaps the pod range: the nodes must refuse it.
      routes: [{ prefix: '203.0.113.0/24' }, { prefix: '10.244.9.0/24' }],
    });
    for (let i = 0; i < 3; i++) {
      const n = await SpeakerProcess.start(ns[i], {
        localAsn: LOCAL_AS,
        routerId: NODES[i],
        holdTime: 9,
        connectRetryTime: 1,
        idleHold: { initialMs: 300, maxMs: 2000 },
        families: ['ipv4'],
        clusterRanges: ['10.244.0.0/16', '10.96.0.0/12'],
      });
      nodes.push(n);
      await n.originate(pod(i));
      for (let j = 0; j < 3; j++) if (j !== i) await n.addPeer({ address: NODES[j], asn: LOCAL_AS, localAddress: NODES[i], mode: 'mesh' });
      await n.addPeer({ address: TOR.v4, asn: TOR.asn, localAddress: NODES[i] });
    }
  });

  afterAll(async () => {
    for (const n of nodes) await n.stop().catch(() => undefined);
    await bird?.stop().catch(() => undefined);
    await Promise.all([...ns, nsB].map((n) => n?.destroy()));
    await sw?.destroy();
  });

  it('every session comes up', async () => {
    for (const n of nodes) {
      await eventually(() => n.status(), (st) => st.length === 3 && st.every((s) => s.state === 'Established'), 'node sessions', 60_000);
    }
    for (let i = 0; i < 3; i++) await eventually(() => bird.sessionState(`node${i + 1}`), (s) => s === 'Established', `BIRD node${i + 1}`);
  });

  it('only the lower address of each pair dials (Calico\'s rule)', async () => {
    for (let i = 0; i < 3; i++) {
      const { stdout: raw } = await ns[i].exec('ss', ['-Htn', 'state', 'established']);
      // The listener is dual-stack: IPv4 peers show as [::ffff:a.b.c.d].
      const stdout = raw.replaceAll('[::ffff:', '').replaceAll(']', '');
      for (let j = 0; j < 3; j++) {
        if (j === i) continue;
        const line = stdout.split('\n').find((l) => l.includes(`${NODES[j]}:`));
        expect(line, `node ${i + 1} to node ${j + 1}: ${stdout}`).toBeTruthy();
        // The dialling side's connection has port 179 at the far end.
        const dialled = line!.includes(`${NODES[j]}:179`);
        expect(dialled, `node ${i + 1} dials node ${j + 1}`).toBe(i < j);
      }
    }
  });

  it('every node learns the other pod blocks from their owners, and BIRD learns all three', async () => {
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        if (i === j) continue;
        const r = await eventually(() => nodes[i].route(pod(j)), (x) => !!x && x.peer === NODES[j], `node ${i + 1} has pod ${j + 1} from its owner`);
        expect(r).toMatchObject({ nextHop: NODES[j], localPref: 100, asPath: [] });
      }
    }
    for (let j = 0; j < 3; j++) {
      const r = await eventually(() => bird.route(pod(j)), (x) => !!x, `BIRD has pod ${j + 1}`);
      expect(r!.asPath).toEqual([LOCAL_AS]);
    }
  });

  it('takes BIRD\'s external route, refuses the one overlapping the pod range', async () => {
    for (const n of nodes) {
      const r = await eventually(() => n.route('203.0.113.0/24'), (x) => !!x, 'external route');
      // eBGP-learned beats the same route heard over iBGP from another node.
      expect(r!.peer).toBe(TOR.v4);
    }
    const st = await nodes[0].peer(TOR.v4);
    expect(st!.prefixesReceived).toBeGreaterThan(st!.prefixesAccepted);
    for (const n of nodes) expect(await n.route('10.244.9.0/24')).toBeUndefined();
  });

  it('a node that dies takes its pod block with it, everywhere', async () => {
    await nodes[1].kill();
    for (const i of [0, 2]) await eventually(() => nodes[i].route(pod(1)), (x) => !x, `pod 2 gone at node ${i + 1}`, 60_000);
    await eventually(() => bird.route(pod(1)), (x) => !x, 'pod 2 gone at BIRD', 60_000);
    // The others are untouched.
    expect(await nodes[0].route(pod(2))).toBeTruthy();
    expect((await nodes[0].peer(NODES[2]))!.state).toBe('Established');
  });
});
