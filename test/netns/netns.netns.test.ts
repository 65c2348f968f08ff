import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, Switch, stopPid, uniqueName, run } from '../../src/netns/netns.ts';

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

  it('attaches to a namespace that exists and refuses one that does not', async () => {
    const again = await Netns.attach(a.name);
    expect((await again.ip('-o', 'addr', 'show', 'dev', 'eth0')).stdout).toContain('198.51.100.1/24');
    expect(await Netns.exists(a.name)).toBe(true);
    await expect(Netns.attach(`${a.name}-none`)).rejects.toThrow(/does not exist/);
  });

  it('lets processes outlive their starter: detached, output in a file, left running by destroy()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tortie-netns-test-'));
    const fd = openSync(join(dir, 'out.log'), 'a');
    const ns = await Netns.create(uniqueName('tho'), { outlive: { outputFd: fd } });
    let pid = 0;
    try {
      const child = ns.spawn('sh', ['-c', 'echo started; exec sleep 60']);
      pid = child.pid!;
      const deadline = Date.now() + 10_000;
      while (!readFileSync(join(dir, 'out.log'), 'utf8').includes('started') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(readFileSync(join(dir, 'out.log'), 'utf8')).toContain('started');
      // Its own process group: a Ctrl-C to the starter's group does not reach it.
      expect(Number((await run('ps', ['-o', 'pgid=', '-p', String(pid)])).stdout.trim())).toBe(pid);
      await ns.destroy();
      expect(() => process.kill(pid, 0)).not.toThrow();
    } finally {
      if (pid) await stopPid(pid);
      closeSync(fd);
      await ns.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
