/** tortie against GoBGP 3: the shared peer suite (harness/peer-suite.ts). */
import { Gobgp } from '../../src/lab/peers/gobgp.ts';
import { peerSuite } from './harness/peer-suite.ts';

peerSuite({
  title: 'GoBGP',
  name: 'GoBGP',
  start: (o) => Gobgp.start(o),
  ebgp: { v4: '198.51.100.30', v6: '2001:db8::30', asn: 65030 },
  ibgp: { v4: '198.51.100.31', v6: '2001:db8::31' },
  sessionBy: 'address',
  sendsMedOverEbgp: true,
  setsLocalPrefOnEbgpRoutes: false,
  withdrawOrigin: (g) => g.withdrawRoute('203.0.113.0/24'),
  restoreOrigin: (g) => g.announce(g.options.routes![0]),
});
