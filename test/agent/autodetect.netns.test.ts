/**
 * Node-address autodetection against a real kernel: interfaces and addresses in a namespace the
 * test creates, read with `ip -n NS -json`, and `ip route get` for can-reach.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IprouteHost, parseAutodetectMethod, selectNodeAddress } from '../../src/agent/autodetect.ts';
import { Netns, run, uniqueName } from '../../src/netns/netns.ts';

let ns: Netns;
let host: IprouteHost;

/** `ip -batch` lines for a veth pair with both ends inside the namespace; addresses go on `name`. */
function iface(name: string, addrs: string[], up = true): string[] {
  return [
    `link add ${name} type veth peer name ${name}p`,
    ...addrs.map((a) => (a.includes(':') ? `addr add ${a} dev ${name} nodad` : `addr add ${a} dev ${name}`)),
    ...(up ? [`link set ${name}p up`, `link set ${name} up`] : []),
  ];
}

beforeAll(async () => {
  ns = await Netns.create(uniqueName('ta'));
  host = new IprouteHost(ns.name);
  // Creation order is ifindex order, which first-found follows.
  await ns.ipBatch([
    ...iface('cali1', ['10.9.0.1/24']),
    ...iface('ens4', ['10.4.0.2/24'], false),
    ...iface('ens5', ['10.1.0.2/24', 'fd00:1::2/64']),
    ...iface('eth7', ['10.2.0.2/24', 'fd00:2::2/64']),
    'route add 198.18.0.0/24 via 10.2.0.1 dev eth7',
    'route add fd99::/64 via fd00:2::1 dev eth7',
  ]);
});

afterAll(async () => {
  await ns?.destroy();
});

const pick = (family: 4 | 6, method: string) => selectNodeAddress(family, {}, parseAutodetectMethod(method, family), host);

describe('autodetection on a real kernel', () => {
  it('lists interfaces in index order with their addresses and state', async () => {
    const ifaces = await host.interfaces();
    expect(ifaces.map((i) => i.name).filter((n) => !n.endsWith('p'))).toEqual(['lo', 'cali1', 'ens4', 'ens5', 'eth7']);
    expect(ifaces.find((i) => i.name === 'ens4')?.up).toBe(false);
    expect(ifaces.find((i) => i.name === 'ens5')?.addresses).toEqual(expect.arrayContaining([{ address: 'fd00:1::2', prefixLength: 64, family: 6, tentative: false }]));
  });

  it('first-found skips cali* and interfaces that are down', async () => {
    expect(await pick(4, 'first-found')).toMatchObject({ address: '10.1.0.2', prefixLength: 24, interface: 'ens5', source: 'autodetect' });
    expect(await pick(6, 'first-found')).toMatchObject({ address: 'fd00:1::2', interface: 'ens5' });
  });

  it('interface=, skip-interface= and cidr= select the interface asked for', async () => {
    expect(await pick(4, 'interface=^eth')).toMatchObject({ address: '10.2.0.2', interface: 'eth7' });
    expect(await pick(4, 'skip-interface=^ens')).toMatchObject({ address: '10.2.0.2', interface: 'eth7' });
    expect(await pick(4, 'cidr=10.2.0.0/16')).toMatchObject({ address: '10.2.0.2' });
    expect(await pick(6, 'cidr=fd00:2::/32')).toMatchObject({ address: 'fd00:2::2' });
  });

  it("can-reach= takes the kernel's source address for the destination, through a gateway too", async () => {
    expect(await pick(4, 'can-reach=198.18.0.5')).toMatchObject({ address: '10.2.0.2', prefixLength: 24, interface: 'eth7' });
    expect(await pick(4, 'can-reach=10.1.0.77')).toMatchObject({ address: '10.1.0.2', interface: 'ens5' });
    expect(await pick(6, 'can-reach=fd99::5')).toMatchObject({ address: 'fd00:2::2', interface: 'eth7' });
    await expect(pick(4, 'can-reach=203.0.113.1')).rejects.toThrow(/the kernel has no route to 203\.0\.113\.1/);
  });

  it('tortie agent --print-config shows the choice and its reason, inside the namespace', async () => {
    const bin = new URL('../../bin/tortie', import.meta.url).pathname;
    const { stdout } = await run('ip', ['netns', 'exec', ns.name, 'env', 'TORTIE_IP_AUTODETECTION_METHOD=can-reach=198.18.0.5', 'TORTIE_IP6_AUTODETECTION_METHOD=interface=ens5', bin, 'agent', '--print-config']);
    expect(stdout).toMatch(/--ip-autodetection-method +can-reach=198\.18\.0\.5 +\(environment TORTIE_IP_AUTODETECTION_METHOD\)/);
    expect(stdout).toContain("node IPv4 address: 10.2.0.2 on eth7 (autodetected with can-reach=198.18.0.5: the kernel's source address towards 198.18.0.5 via eth7)");
    expect(stdout).toContain('node IPv6 address: fd00:1::2 on ens5 (autodetected with interface=ens5: first usable address on ens5, which matches /ens5/)');
  });
});
