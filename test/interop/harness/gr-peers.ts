/**
 * The network of the graceful-restart suites: tortie, BIRD and FRR each in a namespace on one
 * switch; BIRD and FRR announce a few routes to tortie over eBGP, both with graceful restart.
 * The tests start tortie themselves (its options are what they vary).
 */
import { Netns, Switch, uniqueName } from '../../../src/netns/netns.ts';
import { Bird } from '../../../src/lab/peers/bird.ts';
import { Frr } from '../../../src/lab/peers/frr.ts';

export const T = { v4: '198.51.100.1' };
export const B = { v4: '198.51.100.10', asn: 65010 };
export const F = { v4: '198.51.100.20', asn: 65020 };
export const LOCAL_AS = 64512;

export interface GrPeers {
  nsT: Netns;
  bird: Bird;
  frr: Frr;
  /** Stops BIRD and FRR and removes every namespace (after the test stopped tortie). */
  destroy(): Promise<void>;
}

/** BIRD announces 203.0.113.0/25 and .128/25, FRR 192.0.2.0/24; restart times in seconds. */
export async function startGrPeers(opts: { name: string; birdRestartTime: number; frrRestartTime: number }): Promise<GrPeers> {
  const sw = await Switch.create(uniqueName(opts.name));
  const namespaces: Netns[] = [];
  let bird: Bird | undefined;
  let frr: Frr | undefined;
  const destroy = async () => {
    await bird?.stop().catch(() => undefined);
    await frr?.stop().catch(() => undefined);
    await Promise.all(namespaces.map((n) => n.destroy()));
    await sw.destroy();
  };
  try {
    for (let i = 0; i < 3; i++) namespaces.push(await Netns.create(uniqueName(opts.name)));
    const [nsT, nsB, nsF] = namespaces as [Netns, Netns, Netns];
    await sw.connect(nsT, 'eth0', [`${T.v4}/24`]);
    await sw.connect(nsB, 'eth0', [`${B.v4}/24`]);
    await sw.connect(nsF, 'eth0', [`${F.v4}/24`]);
    bird = await Bird.start({
      ns: nsB,
      routerId: B.v4,
      asn: B.asn,
      neighbors: [{ name: 'tortie', address: T.v4, asn: LOCAL_AS, localAddress: B.v4, families: ['ipv4'], gracefulRestart: true, restartTime: opts.birdRestartTime }],
      routes: [{ prefix: '203.0.113.0/25' }, { prefix: '203.0.113.128/25' }],
    });
    frr = await Frr.start({
      ns: nsF,
      routerId: F.v4,
      asn: F.asn,
      neighbors: [{ name: 'tortie', address: T.v4, asn: LOCAL_AS, localAddress: F.v4, families: ['ipv4'], gracefulRestart: true, restartTime: opts.frrRestartTime }],
      routes: [{ prefix: '192.0.2.0/24' }],
    });
    return { nsT, bird, frr, destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}
