/**
 * Which kernel routes and interfaces are tortie's: every ownership rule, in one place.
 *
 * - A route is ours when it sits in our table AND carries our protocol number. Nothing else is
 *   ever changed or deleted; our deletes name the protocol, so the kernel itself refuses to
 *   delete a foreign route in our place (fib_table_delete / ip6_route_del match rtm_protocol).
 * - Workload interfaces (the host side of pod veths) are those whose name starts with the
 *   workload prefix; only they get the per-interface sysctls, and only they can carry a pod route.
 * - A foreign route in our table with the same prefix and metric as one we want is a conflict:
 *   reported and left alone, unless `takeOverConflicts` is set.
 */

/**
 * Default route protocol number: 116 (ASCII "t"). Values 0-4 mean something to the kernel; the
 * kernel's rtnetlink.h names 8-18, 42, 99 and 186-192; iproute2's rt_protos and FRR's
 * rt_protos.d add 190-198; Calico's Felix uses 80 and BIRD 12. 116 is in none of those lists.
 * `ip route show proto 116` lists ours; add `116 tortie` to /etc/iproute2/rt_protos.d/ to name it.
 */
export const DEFAULT_PROTOCOL = 116;
/** The main table (RT_TABLE_MAIN). */
export const DEFAULT_TABLE = 254;
/** The CNI plugin names host-side veths `tor` + 11 hex characters. */
export const DEFAULT_WORKLOAD_PREFIX = 'tor';
/** Route metric for IPv4; the kernel gives IPv6 routes without a metric 1024 (IP6_RT_PRIO_USER). */
export const DEFAULT_PRIORITY_V4 = 0;
export const DEFAULT_PRIORITY_V6 = 1024;

export interface Ownership {
  protocol: number;
  table: number;
  workloadPrefix: string;
}

export function isOurRoute(o: Ownership, r: { table: number; protocol: number }): boolean {
  return r.table === o.table && r.protocol === o.protocol;
}

export function isWorkloadInterface(o: Ownership, name: string): boolean {
  return name.startsWith(o.workloadPrefix) && name.length > o.workloadPrefix.length;
}

/** Two routes fight for one kernel slot when prefix and metric match (tos is always 0 for us). */
export function sameSlot(a: { dst: string; priority: number }, b: { dst: string; priority: number }): boolean {
  return a.dst === b.dst && a.priority === b.priority;
}
