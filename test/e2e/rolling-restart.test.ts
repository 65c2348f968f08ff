// Issue 8, e2e: every agent restarted in turn (SIGTERM: graceful restart, kernel routes kept)
// while pods on different nodes ping each other continuously: not one ping may be lost.
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Netns } from '../../src/netns/netns.ts';
import { useLab, waitForAllSessions } from './harness.ts';

function pingStats(output: string): { sent: number; received: number } {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(output);
  if (!m) throw new Error(`no ping summary in: ${output}`);
  return { sent: Number(m[1]), received: Number(m[2]) };
}

describe('rolling restart with graceful restart', () => {
  const { lab } = useLab({ nodes: 3, router: 'bird' });

  it('loses no ping while every agent restarts in turn', async () => {
    const l = lab();
    await waitForAllSessions(l);
    const [n1, n2, n3] = l.plan.nodes;
    const pairs = [
      [l.pods(n1)[0], l.pods(n2)[0]],
      [l.pods(n2)[0], l.pods(n3)[0]],
      [l.pods(n3)[0], l.pods(n1)[0]],
    ] as const;
    const pings: Array<{ child: ChildProcess; out: Promise<string> }> = [];
    for (const [from, to] of pairs) {
      const ns = await Netns.attach(from.netns);
      const child = ns.spawn('ping', ['-n', '-i', '0.2', to.ips[0]]);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      // 'close', not 'exit': the summary ping prints on SIGINT may still be in the pipe at exit.
      pings.push({ child, out: new Promise((r) => child.on('close', () => r(out))) });
    }
    try {
      for (const n of l.plan.nodes) {
        await l.restartAgent(n);
        await l.waitForAgents();
        await waitForAllSessions(l);
      }
    } finally {
      for (const p of pings) p.child.kill('SIGINT');
    }
    for (const p of pings) {
      const stats = pingStats(await p.out);
      expect(stats.sent).toBeGreaterThan(10);
      expect(stats.received).toBe(stats.sent);
    }
  });
});
