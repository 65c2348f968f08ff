import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, Switch, uniqueName, run } from '../../src/netns/netns.ts';

describe('namespace helpers', () => {
  let sw: Switch;
  let a: Netns;
  let b: Netns;

  beforeAll(async () => {
    sw = await Switch.create(uniqueName('tsw'));
    a = await Netns.create(uniqueName('tha'));
    b = await Netns.create(uniqueName('thb'));
    await sw.connect(a, 'eth0', ['198.51.100.1/24', '2001:db8::1/64']);
    await sw.connect(b, 'eth0', ['198.51.100.2/24', '2001:db8::2/64']);
  });

  afterAll(async () => {
    await Promise.all([a?.destroy(), b?.destroy(), sw?.destroy()]);
  });

  it('hosts on one switch reach each other over IPv4 and IPv6', async () => {
    expect(await a.ping('198.51.100.2')).toBe(true);
    expect(await b.ping('2001:db8::1', { count: 1, timeoutS: 2 })).toBe(true);
    expect(await a.ping('198.51.100.99')).toBe(false);
  });

  it('removes the namespaces it made', async () => {
    const extra = await Netns.create(uniqueName('thx'));
    await extra.destroy();
    const { stdout } = await run('ip', ['netns', 'list']);
    expect(stdout).not.toContain(extra.name);
  });
});
