/** tortie against FRR 8 (zebra + bgpd): the shared peer suite (harness/peer-suite.ts). */
import { Frr } from '../../src/lab/peers/frr.ts';
import { peerSuite } from './harness/peer-suite.ts';

const E = { v4: '198.51.100.20', v6: '2001:db8::20', asn: 65020 }; // eBGP FRR

const network = (f: Frr, no: string) => f.vtysh('configure terminal', `router bgp ${E.asn}`, 'address-family ipv4 unicast', `${no}network 203.0.113.0/24 route-map ORIG_0`).then(() => undefined);

peerSuite({
  title: 'FRR',
  name: 'FRR',
  start: (o) => Frr.start(o),
  ebgp: E,
  ibgp: { v4: '198.51.100.21', v6: '2001:db8::21' },
  sessionBy: 'address',
  sendsMedOverEbgp: true,
  setsLocalPrefOnEbgpRoutes: false,
  withdrawOrigin: (f) => network(f, 'no '),
  restoreOrigin: (f) => network(f, ''),
});
