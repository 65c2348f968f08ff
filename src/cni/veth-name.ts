/**
 * The host-side name of a pod's veth. The CNI plugin names the interface and the agent's dataplane
 * finds it again from the Pod alone, so both must compute the same name: keep this module free of
 * other imports so that either side can use it.
 */
import { createHash } from 'node:crypto';

/** Every host-side veth tortie creates starts with this; the dataplane owns interfaces by it. */
export const HOST_VETH_PREFIX = 'tor';

/**
 * 11 hex characters (44 bits) of the hash: `tor` + 11 = 14 bytes, inside the kernel's 15-byte
 * limit (IFNAMSIZ 16 with the NUL), and a collision among the pods of one node is vanishingly rare.
 */
const HASH_CHARS = 11;

function hashed(key: string): string {
  return HOST_VETH_PREFIX + createHash('sha1').update(key).digest('hex').slice(0, HASH_CHARS);
}

/**
 * `tor` + 11 hex characters of SHA-1 over `namespace.name`. A dot cannot occur in either part
 * (both are DNS labels or subdomains, and a namespace is a label), so distinct pods give distinct
 * keys.
 */
export function hostVethName(podNamespace: string, podName: string): string {
  return hashed(`${podNamespace}.${podName}`);
}

/** The fallback when the runtime does not pass K8S_POD_NAMESPACE and K8S_POD_NAME. */
export function hostVethNameForContainer(containerId: string): string {
  return hashed(`container:${containerId}`);
}
