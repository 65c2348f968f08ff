/**
 * tortie against BIRD 2: the shared peer suite (harness/peer-suite.ts), and the launcher's
 * handling of a config BIRD refuses.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { expect, it } from 'vitest';
import { Bird } from '../../src/lab/peers/bird.ts';
import { peerSuite } from './harness/peer-suite.ts';

const E = { v4: '198.51.100.10', v6: '2001:db8::10', asn: 65010 }; // eBGP BIRD

peerSuite(
  {
    title: 'BIRD 2',
    name: 'BIRD',
    start: (o) => Bird.start(o),
    ebgp: E,
    ibgp: { v4: '198.51.100.11', v6: '2001:db8::11' },
    sessionBy: 'name',
    passedRouteProtocol: 'tortie',
    sendsMedOverEbgp: false,
    setsLocalPrefOnEbgpRoutes: true,
    withdrawOrigin: (b) => b.birdc('disable', 'static_ipv4').then(() => undefined),
    restoreOrigin: (b) => b.birdc('enable', 'static_ipv4').then(() => undefined),
  },
  (ctx) => {
    it('the launcher reports a config BIRD refuses, and leaves no directory or process behind', async () => {
      const marker = `this is not bird config ${process.pid};`;
      await expect(Bird.start({ ns: ctx.nsE, routerId: E.v4, asn: E.asn, neighbors: [], extra: marker })).rejects.toThrow(/syntax error/);
      // Other projects may run BIRD at the same time: look for our config only.
      const ours = [];
      for (const d of (await readdir(tmpdir())).filter((f) => f.startsWith('tortie-bird-'))) {
        const conf = await readFile(path.join(tmpdir(), d, 'bird.conf'), 'utf8').catch(() => '');
        if (conf.includes(marker)) ours.push(d);
      }
      expect(ours).toEqual([]);
    });
  },
);
