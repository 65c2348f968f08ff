/**
 * The CNI server's wiring (src/cni/netlink-wiring.ts): netlink requests through a tortie-nl relay
 * running in the test's host namespace, with CNI_NETNS given as /proc/PID/ns/net as runtimes do.
 * Includes the race the agent's dataplane makes: it sees the new veth and installs the pod's /32
 * before the plugin's own route request arrives.
 */
import { readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetlinkNamespaces, type NamespaceSocket } from '../../src/dataplane/netlink-namespaces.ts';
import type { NlWriter, Decoded } from '../../src/dataplane/netlink.ts';
import { DEFAULT_PROTOCOL } from '../../src/dataplane/ownership.ts';
import { CniError } from '../../src/cni/errors.ts';
import { NetlinkWiring } from '../../src/cni/netlink-wiring.ts';
import { stopPid, type Netns } from '../../src/netns/netns.ts';
import { CniNode, HOST_ADDRESS, sysctl } from './harness.ts';

/** Runs `between` once, right after the first request on the host socket (the veth creation). */
class RacingRelay extends NetlinkNamespaces {
  between: (() => Promise<void>) | undefined;
  private hostSocket = -1;

  override async ownNamespace(): Promise<NamespaceSocket> {
    const s = await super.ownNamespace();
    this.hostSocket = s.socket;
    return s;
  }

  override async request(s: NamespaceSocket, build: (w: NlWriter) => void): Promise<Decoded[]> {
    const replies = await super.request(s, build);
    const hook = this.between;
    if (hook && s.socket === this.hostSocket) {
      this.between = undefined;
      await hook();
    }
    return replies;
  }
}

describe('netlink wiring (the CNI server path)', () => {
  let node: CniNode;
  let relay: RacingRelay;
  let wiring: NetlinkWiring;
  const sleepers: number[] = [];
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);

  beforeAll(async () => {
    node = await CniNode.create({ prefix: 'c2' });
    relay = new RacingRelay({ netns: `/var/run/netns/${node.host.name}` });
    wiring = new NetlinkWiring(relay);
  }, 60_000);

  afterAll(async () => {
    await wiring?.stop();
    for (const pid of sleepers) await stopPid(pid);
    await node?.destroy();
  });

  /** A pod namespace named the way runtimes pass it: /proc/PID/ns/net of a process inside. */
  async function podByPid(): Promise<{ ns: Netns; path: string }> {
    const ns = await node.pod();
    const child = ns.spawn('sleep', ['600']);
    sleepers.push(child.pid!);
    const path = `/proc/${child.pid}/ns/net`;
    const want = (await ns.exec('readlink', ['/proc/self/ns/net'])).stdout.trim();
    const deadline = Date.now() + 10_000;
    while (readlinkSync(path) !== want) {
      if (Date.now() > deadline) throw new Error(`process ${child.pid} did not enter ${ns.name}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return { ns, path };
  }

  it('wires a pod given as /proc/PID/ns/net: it reaches its host; DEL removes it and is idempotent', async () => {
    const { ns, path } = await podByPid();
    const w = { hostVeth: 'torc2a', ifname: 'eth0', netnsPath: path, mtu: 1400, addresses: [{ family: 4 as const, address: '10.77.1.2' }] };
    const { containerMac } = await wiring.wire(w, log);
    expect(containerMac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect((await ns.ip('-o', 'link', 'show', 'eth0')).stdout).toContain(`link/ether ${containerMac}`);
    expect((await ns.ip('route', 'show')).stdout).toMatch(/^default via 169\.254\.1\.1 dev eth0/m);
    const hostLink = (await node.host.ip('-o', 'link', 'show', 'torc2a')).stdout;
    expect(hostLink).toContain('link/ether ee:ee:ee:ee:ee:ee');
    expect(hostLink).toContain('mtu 1400');
    expect((await node.host.ip('-o', 'addr', 'show', 'dev', 'torc2a')).stdout.trim()).toBe('');
    expect(await sysctl(node.host, 'net.ipv4.conf.torc2a.proxy_arp')).toBe('1');
    expect((await node.host.ip('route', 'show', 'exact', '10.77.1.2/32')).stdout).toMatch(new RegExp(`dev torc2a proto ${DEFAULT_PROTOCOL} scope link`));
    expect(await ns.ping(HOST_ADDRESS, { count: 1, timeoutS: 3 })).toBe(true);

    await wiring.unwire(path, 'eth0', log);
    expect(await node.extraHostLinks()).toEqual([]);
    expect(await node.podRoutes()).toEqual([]);
    await wiring.unwire(path, 'eth0', log);
    await wiring.unwire('/proc/999999999/ns/net', 'eth0', log);
  });

  it("tolerates the dataplane's /32 appearing between the veth and the plugin's route, and leaves it alone", async () => {
    const { ns, path } = await podByPid();
    // What the agent does when it sees the veth up: its own route, which must stay as it is.
    // (The kernel takes a device route only through a link that is up, so up it goes first.)
    relay.between = async () => {
      await node.host.ipBatch(['link set torc2b up', `route add 10.77.1.3/32 dev torc2b scope link proto ${DEFAULT_PROTOCOL}`]);
    };
    logs.length = 0;
    await wiring.wire({ hostVeth: 'torc2b', ifname: 'eth0', netnsPath: path, mtu: 1500, addresses: [{ family: 4, address: '10.77.1.3' }] }, log);
    expect(relay.between).toBeUndefined();
    const routes = (await node.host.ip('route', 'show', 'exact', '10.77.1.3/32')).stdout.trim().split('\n').map((l) => l.trim());
    expect(routes).toEqual([`10.77.1.3 dev torc2b proto ${DEFAULT_PROTOCOL} scope link`]);
    expect(logs.join('\n')).not.toContain('replacing');
    expect(await ns.ping(HOST_ADDRESS, { count: 1, timeoutS: 3 })).toBe(true);
    await wiring.unwire(path, 'eth0', log);
  });

  it('replaces a /32 that points elsewhere, and leaves nothing when the pod side name is taken', async () => {
    const { path } = await podByPid();
    await node.host.ip('route', 'add', 'blackhole', '10.77.1.4/32');
    logs.length = 0;
    await wiring.wire({ hostVeth: 'torc2c', ifname: 'eth0', netnsPath: path, mtu: 1500, addresses: [{ family: 4, address: '10.77.1.4' }] }, log);
    expect((await node.host.ip('route', 'show', 'exact', '10.77.1.4/32')).stdout).toContain('dev torc2c');
    expect(logs.join('\n')).toContain('replacing route 10.77.1.4/32');

    // The same ifname again in that namespace: the pod side collides, nothing of the attempt stays.
    const again = wiring.wire({ hostVeth: 'torc2d', ifname: 'eth0', netnsPath: path, mtu: 1500, addresses: [{ family: 4, address: '10.77.1.5' }] }, log);
    await expect(again).rejects.toBeInstanceOf(CniError);
    await expect(again).rejects.toMatchObject({ code: 5, message: expect.stringContaining('eth0 already exists') });
    expect(await node.extraHostLinks()).toEqual(['torc2c']);
    await wiring.unwire(path, 'eth0', log);
    expect(await node.extraHostLinks()).toEqual([]);
  });

  it('starts a new relay when the one it had died', async () => {
    const { ns, path } = await podByPid();
    await wiring.unwire(path, 'eth0', log); // makes sure a relay runs
    const pid = relay.relayPid!;
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (relay.relayPid === pid && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await wiring.wire({ hostVeth: 'torc2f', ifname: 'eth0', netnsPath: path, mtu: 1500, addresses: [{ family: 4, address: '10.77.1.7' }] }, log);
    expect(relay.relayPid).not.toBe(pid);
    expect(await ns.ping(HOST_ADDRESS, { count: 1, timeoutS: 3 })).toBe(true);
    await wiring.unwire(path, 'eth0', log);
    expect(await node.extraHostLinks()).toEqual([]);
  });

  it('names a namespace that does not exist with code 3', async () => {
    const w = wiring.wire({ hostVeth: 'torc2e', ifname: 'eth0', netnsPath: '/proc/999999999/ns/net', mtu: 1500, addresses: [{ family: 4, address: '10.77.1.6' }] }, log);
    await expect(w).rejects.toMatchObject({ code: 3 });
    expect(await node.extraHostLinks()).toEqual([]);
  });
});
