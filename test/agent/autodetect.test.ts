import { describe, expect, it } from 'vitest';
import { parseAutodetectMethod, selectNodeAddress, type HostInterface, type HostNetwork } from '../../src/agent/autodetect.ts';

function iface(index: number, name: string, addrs: string[], up = true, tentative: string[] = []): HostInterface {
  return {
    name,
    index,
    up,
    addresses: addrs.map((a) => {
      const [address, len] = a.split('/');
      return { address, prefixLength: Number(len), family: address.includes(':') ? 6 : 4, tentative: tentative.includes(address) };
    }),
  };
}

class FakeHost implements HostNetwork {
  readonly ifaces: HostInterface[];
  readonly routes: Record<string, { dev: string; src: string }>;
  routeGets = 0;
  constructor(ifaces: HostInterface[], routes: Record<string, { dev: string; src: string }> = {}) {
    this.ifaces = ifaces;
    this.routes = routes;
  }
  async interfaces() {
    return this.ifaces;
  }
  async routeGet(d: string) {
    this.routeGets++;
    return this.routes[d] ?? null;
  }
}

const host = new FakeHost([
  iface(1, 'lo', ['127.0.0.1/8', '::1/128']),
  iface(2, 'cali12345', ['10.9.0.1/32']),
  iface(3, 'docker0', ['172.17.0.1/16']),
  iface(4, 'ens3', ['169.254.3.3/16', '192.0.2.10/24', 'fe80::1/64', '2001:db8::10/64']),
  iface(5, 'eth1', ['198.51.100.7/24', '2001:db8:1::7/64']),
  iface(6, 'ens9', ['203.0.113.9/24'], false),
  iface(7, 'tor4a2b', ['10.8.0.1/32']),
  iface(8, 'eth2', ['2001:db8:2::2/64', '2001:db8:2::3/64'], true, ['2001:db8:2::2']),
]);
const first = parseAutodetectMethod('first-found', 4);

describe('node address: precedence', () => {
  it('takes the annotation over the InternalIP and autodetection, keeping its prefix length', async () => {
    const c = await selectNodeAddress(4, { annotation: '10.1.2.3/24', internalIPs: ['10.4.4.4'] }, first, host);
    expect(c).toMatchObject({ address: '10.1.2.3', prefixLength: 24, source: 'annotation' });
    expect(c.reason).toContain('tortie.dev/bgp-ipv4-address');
  });

  it('takes the annotation as the datastore parsed it', async () => {
    expect(await selectNodeAddress(6, { annotation: { address: 'fd00::7', prefixLength: null } }, first, host)).toMatchObject({ address: 'fd00::7', prefixLength: null, source: 'annotation' });
    expect(await selectNodeAddress(4, { annotation: { address: '10.1.2.3', prefixLength: 16 } }, first, host)).toMatchObject({ address: '10.1.2.3', prefixLength: 16 });
  });

  it("takes the Node's InternalIP of the right family before autodetecting", async () => {
    const c = await selectNodeAddress(6, { internalIPs: ['10.4.4.4', 'fd00::4'] }, parseAutodetectMethod('first-found', 6), host);
    expect(c).toMatchObject({ address: 'fd00::4', source: 'internal-ip' });
  });

  it('autodetects when neither is there', async () => {
    const c = await selectNodeAddress(4, { internalIPs: ['fd00::4'] }, first, host);
    expect(c.source).toBe('autodetect');
  });

  it('refuses a malformed or wrong-family annotation instead of silently autodetecting', async () => {
    await expect(selectNodeAddress(4, { annotation: '10.1.2' }, first, host)).rejects.toMatchObject({ code: 'TORTIE_NODE_ADDRESS', message: expect.stringContaining("'10.1.2'") });
    await expect(selectNodeAddress(4, { annotation: 'fd00::1/64' }, first, host)).rejects.toThrow(/is IPv6, expected IPv4/);
    await expect(selectNodeAddress(6, { annotation: '10.0.0.1' }, first, host)).rejects.toThrow(/not an IPv6 address/);
  });

  it('leaves a family off with none when nothing else gives an address', async () => {
    const c = await selectNodeAddress(6, {}, parseAutodetectMethod('none', 6), host);
    expect(c).toMatchObject({ address: null, source: 'none' });
  });
});

describe('node address: autodetection methods', () => {
  it('first-found skips lo, cali*, docker*, link-local addresses and takes the next', async () => {
    const c = await selectNodeAddress(4, {}, first, host);
    expect(c).toMatchObject({ address: '192.0.2.10', prefixLength: 24, interface: 'ens3' });
    expect(c.reason).toMatch(/first-found.*ens3/);
    const v6 = await selectNodeAddress(6, {}, parseAutodetectMethod('first-found', 6), host);
    expect(v6).toMatchObject({ address: '2001:db8::10', interface: 'ens3' });
  });

  it('skip-interface adds names to skip', async () => {
    const c = await selectNodeAddress(4, {}, parseAutodetectMethod('skip-interface=^ens', 4), host);
    expect(c).toMatchObject({ address: '198.51.100.7', interface: 'eth1' });
  });

  it('interface= takes the first up interface matching any regex', async () => {
    expect(await selectNodeAddress(4, {}, parseAutodetectMethod('interface=eth.*', 4), host)).toMatchObject({ address: '198.51.100.7', interface: 'eth1' });
    // ens9 matches but is down; tor4a2b matches the second regex and is up.
    expect(await selectNodeAddress(4, {}, parseAutodetectMethod('interface=ens9,^tor', 4), host)).toMatchObject({ address: '10.8.0.1', interface: 'tor4a2b' });
  });

  it('skips IPv6 addresses still tentative', async () => {
    expect(await selectNodeAddress(6, {}, parseAutodetectMethod('interface=eth2', 6), host)).toMatchObject({ address: '2001:db8:2::3' });
  });

  it('cidr= takes the first address inside one of the ranges', async () => {
    const c = await selectNodeAddress(4, {}, parseAutodetectMethod('cidr=10.0.0.0/8,198.51.100.0/24', 4), host);
    // cali* is not skipped by name here, but 10.9.0.1 on it lies in 10/8 and comes first by index.
    expect(c).toMatchObject({ address: '10.9.0.1', interface: 'cali12345' });
    expect(c.reason).toContain('lies in 10.0.0.0/8');
    expect(await selectNodeAddress(4, {}, parseAutodetectMethod('cidr=198.51.100.1/24', 4), host)).toMatchObject({ address: '198.51.100.7' });
  });

  it("can-reach= takes the kernel's source address for the destination", async () => {
    const h = new FakeHost(host.ifaces, { '203.0.113.50': { dev: 'eth1', src: '198.51.100.7' } });
    const c = await selectNodeAddress(4, {}, parseAutodetectMethod('can-reach=203.0.113.50', 4), h);
    expect(c).toMatchObject({ address: '198.51.100.7', prefixLength: 24, interface: 'eth1' });
    expect(c.reason).toContain('towards 203.0.113.50 via eth1');
  });

  it('fails with a message naming the method and what to set when nothing matches', async () => {
    await expect(selectNodeAddress(4, {}, parseAutodetectMethod('interface=wlan0', 4), host)).rejects.toThrow(/interface=wlan0.*tortie.dev\/bgp-ipv4-address/);
    await expect(selectNodeAddress(4, {}, parseAutodetectMethod('can-reach=203.0.113.50', 4), host)).rejects.toThrow(/no route to 203.0.113.50/);
    await expect(selectNodeAddress(6, {}, parseAutodetectMethod('cidr=fd99::/16', 6), host)).rejects.toThrow(/--ip6-autodetection-method/);
    const bare = new FakeHost([iface(1, 'lo', ['127.0.0.1/8']), iface(2, 'veth0', ['10.0.0.1/24'])]);
    await expect(selectNodeAddress(4, {}, first, bare)).rejects.toThrow(/no up interface that is not skipped/);
  });
});
