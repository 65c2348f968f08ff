/**
 * Which addresses share one of the node's own subnets. The speaker asks it before passing a route
 * to an external peer: when the route's next hop (another node) and the peer (the top-of-rack
 * router) are on a subnet this node is attached to, the next hop goes unchanged (RFC 4271 5.1.3,
 * "third party"), so the router reaches every node's block directly, as BIRD does for Calico on
 * a shared subnet, instead of through whichever node it heard the block from first.
 */
import { keyContains, parsePrefix, type RouteKey } from '../bgp/rib/prefix.ts';

/** A test over the given subnets (`198.51.100.0/24`, `2001:db8::/64`); addresses that do not parse never match. */
export function sharedSubnetTest(cidrs: readonly string[]): (a: string, b: string) => boolean {
  const subnets: RouteKey[] = cidrs.map((c) => parsePrefix(c, { allowHostBits: true }).key);
  const host = (addr: string): RouteKey | null => {
    try {
      return parsePrefix(`${addr}/${addr.includes(':') ? 128 : 32}`).key;
    } catch {
      return null;
    }
  };
  return (a, b) => {
    const ka = host(a);
    const kb = host(b);
    if (ka === null || kb === null) return false;
    return subnets.some((s) => keyContains(s, ka) && keyContains(s, kb));
  };
}
