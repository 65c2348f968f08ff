import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopPid, type Netns } from '../../src/netns/netns.ts';
import { hostVethName } from '../../src/cni/veth-name.ts';
import { DEFAULT_PROTOCOL } from '../../src/dataplane/ownership.ts';
import { builtinConfig, CniNode, HOST_ADDRESS, sysctl } from './harness.ts';

interface AddResult {
  interfaces: Array<{ name: string; mac: string; sandbox?: string }>;
  ips: Array<{ address: string; gateway: string; interface: number }>;
}

describe('ADD, CHECK and DEL wire a pod Calico-style', () => {
  let node: CniNode;
  let podA: Netns;
  let podB: Netns;
  let conf: Record<string, unknown>;
  let resultA: AddResult;
  let resultB: AddResult;
  const argsA = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0';
  const argsB = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1';

  beforeAll(async () => {
    node = await CniNode.create();
    podA = await node.pod();
    podB = await node.pod();
    conf = builtinConfig(node);
  });

  afterAll(async () => {
    await node?.destroy();
  });

  it('ADD returns the pod interface, its /32 and the 169.254.1.1 gateway', async () => {
    const a = await node.call({ command: 'ADD', containerId: 'ctr-a', netns: `/var/run/netns/${podA.name}`, ifname: 'eth0', args: argsA, config: conf });
    expect(a.exitCode, a.stdout + a.stderr).toBe(0);
    resultA = a.json as unknown as AddResult;
    expect(resultA.interfaces[0]).toEqual({ name: hostVethName('shop', 'web-0'), mac: 'ee:ee:ee:ee:ee:ee' });
    expect(resultA.interfaces[1]).toMatchObject({ name: 'eth0', sandbox: `/var/run/netns/${podA.name}` });
    expect(resultA.ips).toEqual([{ address: expect.stringMatching(/^10\.77\.0\.\d+\/32$/), gateway: '169.254.1.1', interface: 1 }]);

    const b = await node.call({ command: 'ADD', containerId: 'ctr-b', netns: `/var/run/netns/${podB.name}`, ifname: 'eth0', args: argsB, config: conf });
    expect(b.exitCode, b.stdout + b.stderr).toBe(0);
    resultB = b.json as unknown as AddResult;
    expect(resultB.ips[0].address).not.toBe(resultA.ips[0].address);
  });

  it('puts a /32, a link-scope route to 169.254.1.1 and the default route in the pod', async () => {
    const addr = resultA.ips[0].address;
    const { stdout: addrs } = await podA.ip('-o', '-4', 'addr', 'show', 'dev', 'eth0');
    expect(addrs).toContain(`inet ${addr} `);
    const { stdout: routes } = await podA.ip('route', 'show');
    expect(routes).toMatch(/^default via 169\.254\.1\.1 dev eth0/m);
    expect(routes).toMatch(/^169\.254\.1\.1 dev eth0 scope link/m);
    const { stdout: link } = await podA.ip('-o', 'link', 'show', 'dev', 'eth0');
    expect(link).toContain('mtu 1400');
    expect(link).toContain(`link/ether ${resultA.interfaces[1].mac}`);
  });

  it("leaves the host side without an address, with proxy ARP and a /32 route to the pod carrying the dataplane's protocol", async () => {
    const veth = resultA.interfaces[0].name;
    const { stdout: addrs } = await node.host.ip('-o', 'addr', 'show', 'dev', veth);
    expect(addrs.trim()).toBe('');
    expect(await sysctl(node.host, `net.ipv4.conf.${veth}.proxy_arp`)).toBe('1');
    expect(await sysctl(node.host, `net.ipv4.neigh.${veth}.proxy_delay`)).toBe('0');
    expect(await sysctl(node.host, `net.ipv4.conf.${veth}.forwarding`)).toBe('1');
    const routes = await node.podRoutes();
    // The agent's dataplane owns routes by protocol number: the plugin's route is one of its own.
    expect(routes).toContain(`${resultA.ips[0].address.split('/')[0]} dev ${veth} proto ${DEFAULT_PROTOCOL} scope link `);
    expect(routes).toContain(`${resultB.ips[0].address.split('/')[0]} dev ${resultB.interfaces[0].name} proto ${DEFAULT_PROTOCOL} scope link `);
  });

  it('the pod reaches its host and the other pod on the node', async () => {
    expect(await podA.ping(HOST_ADDRESS, { count: 1, timeoutS: 3 })).toBe(true);
    expect(await podA.ping(resultB.ips[0].address.split('/')[0], { count: 1, timeoutS: 3 })).toBe(true);
    expect(await node.host.ping(resultB.ips[0].address.split('/')[0], { count: 1, timeoutS: 3 })).toBe(true);
  });

  it('CHECK passes against prevResult, and fails once the pod lost its address', async () => {
    const prev = { ...conf, prevResult: resultA };
    const ok = await node.call({ command: 'CHECK', containerId: 'ctr-a', netns: `/var/run/netns/${podA.name}`, ifname: 'eth0', args: argsA, config: prev });
    expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toBe('');

    await podA.ip('addr', 'del', resultA.ips[0].address, 'dev', 'eth0');
    const bad = await node.call({ command: 'CHECK', containerId: 'ctr-a', netns: `/var/run/netns/${podA.name}`, ifname: 'eth0', args: argsA, config: prev });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.json).toMatchObject({ code: 101, msg: expect.stringContaining(resultA.ips[0].address) });
  });

  it('DEL removes the veth, the route and the allocation, and is idempotent', async () => {
    expect(node.allocations('tnet')).toHaveLength(2);
    const del = { command: 'DEL', containerId: 'ctr-a', netns: `/var/run/netns/${podA.name}`, ifname: 'eth0', args: argsA, config: { ...conf, prevResult: resultA } };
    const first = await node.call(del);
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(await node.extraHostLinks()).toEqual([resultB.interfaces[0].name]);
    expect(await CniNode.podLinks(podA)).toEqual([]);
    expect(node.allocations('tnet')).toEqual([resultB.ips[0].address.split('/')[0]]);
    expect((await node.podRoutes()).join('\n')).not.toContain(resultA.ips[0].address.split('/')[0] + ' ');

    expect((await node.call(del)).exitCode).toBe(0);
    // The runtime may have removed the namespace before DEL: still success.
    const gone = await node.call({ ...del, netns: '/var/run/netns/tn-no-such-namespace' });
    expect(gone.exitCode, gone.stdout).toBe(0);
    const noNetns = await node.call({ ...del, netns: undefined });
    expect(noNetns.exitCode, noNetns.stdout).toBe(0);
  });

  it('replaces a stale /32 route that points elsewhere', async () => {
    // A leftover blackhole for the address the allocator hands out next.
    const next = '10.77.0.3';
    await node.host.ip('route', 'add', 'blackhole', `${next}/32`);
    const pod = await node.pod();
    const r = await node.call({ command: 'ADD', containerId: 'ctr-c', netns: `/var/run/netns/${pod.name}`, ifname: 'eth0', args: 'K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-2', config: conf });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect((r.json as unknown as AddResult).ips[0].address).toBe(`${next}/32`);
    const { stdout } = await node.host.ip('route', 'show', 'exact', `${next}/32`);
    expect(stdout).toContain(`dev ${hostVethName('shop', 'web-2')} proto ${DEFAULT_PROTOCOL} `);
    expect(await pod.ping(HOST_ADDRESS, { count: 1, timeoutS: 3 })).toBe(true);
  });

  it('replaces a host veth left by an earlier sandbox of the same pod whose DEL never came', async () => {
    const args = 'K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-9';
    const old = await node.pod();
    const fresh = await node.pod();
    const first = await node.call({ command: 'ADD', containerId: 'ctr-old', netns: `/var/run/netns/${old.name}`, ifname: 'eth0', args, config: conf });
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    const second = await node.call({ command: 'ADD', containerId: 'ctr-new', netns: `/var/run/netns/${fresh.name}`, ifname: 'eth0', args, config: conf });
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    const veth = hostVethName('shop', 'web-9');
    const { stdout } = await node.host.ip('-o', 'link', 'show', 'dev', veth);
    expect(stdout).toContain(`link-netns ${fresh.name}`);
    expect(await CniNode.podLinks(old)).toEqual([]);
    expect(await fresh.ping(HOST_ADDRESS, { count: 1, timeoutS: 3 })).toBe(true);
    // The old sandbox's DEL, late, must not take the new pod's interface with it.
    expect((await node.call({ command: 'DEL', containerId: 'ctr-old', netns: `/var/run/netns/${old.name}`, ifname: 'eth0', args, config: conf })).exitCode).toBe(0);
    expect(await node.extraHostLinks()).toContain(veth);
    expect((await node.call({ command: 'DEL', containerId: 'ctr-new', netns: `/var/run/netns/${fresh.name}`, ifname: 'eth0', args, config: conf })).exitCode).toBe(0);
    expect(await node.extraHostLinks()).not.toContain(veth);
  });

  it('accepts CNI_NETNS as /proc/PID/ns/net and names the veth by container ID without pod args', async () => {
    // A process in a namespace of its own, as a runtime's pause container would be.
    let sleeper: ChildProcess | undefined;
    try {
      sleeper = spawn('unshare', ['--net', 'sleep', '120'], { stdio: 'ignore' });
      const pid = sleeper.pid!;
      const nsPath = `/proc/${pid}/ns/net`;
      // Wait until unshare has exec'd sleep in the new namespace.
      const self = (await import('node:fs')).readlinkSync('/proc/self/ns/net');
      const deadline = Date.now() + 10_000;
      while ((await import('node:fs')).readlinkSync(nsPath) === self && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));

      const base = { containerId: 'ctr-proc', netns: nsPath, ifname: 'eth1', config: conf };
      const r = await node.call({ command: 'ADD', ...base });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      const res = r.json as unknown as AddResult;
      expect(res.interfaces[0].name).toMatch(/^tor[0-9a-f]{11}$/);
      expect(res.interfaces[1]).toMatchObject({ name: 'eth1', sandbox: nsPath });
      const { stdout } = await import('../../src/netns/netns.ts').then((m) => m.run('nsenter', [`--net=${nsPath}`, 'ip', '-o', 'addr', 'show', 'dev', 'eth1']));
      expect(stdout).toContain(res.ips[0].address);

      const check = await node.call({ command: 'CHECK', ...base, config: { ...conf, prevResult: res } });
      expect(check.exitCode, check.stdout + check.stderr).toBe(0);
      const del = await node.call({ command: 'DEL', ...base });
      expect(del.exitCode, del.stdout + del.stderr).toBe(0);
      expect(await node.extraHostLinks()).not.toContain(res.interfaces[0].name);
      // No symlink of ours is left in the namespace directory.
      expect((await import('node:fs')).readdirSync('/var/run/netns').filter((n) => n.startsWith(`tortie-cni-`))).toEqual([]);
    } finally {
      if (sleeper?.pid) await stopPid(sleeper.pid);
    }
  });
});
