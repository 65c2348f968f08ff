import { describe, expect, it } from 'vitest';
import { Health } from '../../src/agent/health.ts';
import { listenHttp } from '../../src/agent/http.ts';
import type { PeerStatus, SessionState } from '../../src/agent/sources.ts';
import { MemorySync, samplePeers } from './fixtures/memory-sources.ts';

function setup(states: SessionState[]) {
  let now = 1_000_000;
  const sync = new MemorySync();
  const peers: PeerStatus[] = states.map((state, i) => ({ ...samplePeers()[0], address: `10.0.0.${i + 2}`, state }));
  const health = new Health({ sync, peers: { peers: () => peers }, clock: () => now, startedAt: now });
  return { health, sync, peers, advance: (ms: number) => (now += ms) };
}

describe('readiness (calico-node bird-ready rule)', () => {
  it('is not ready before the datastore has synced, whatever the peers', () => {
    const { health } = setup(['Established']);
    const r = health.readiness();
    expect(r.ok).toBe(false);
    expect(r.checks.find((c) => c.name === 'datastore')).toMatchObject({ ok: false });
  });

  it('with no peers configured, is ready once synced', () => {
    const { health, sync } = setup([]);
    sync.done = true;
    expect(health.readiness()).toMatchObject({ ok: true, checks: [{ ok: true }, { ok: true, detail: 'no peers configured' }] });
  });

  it('in the first 30 s needs every peer Established', () => {
    const { health, sync, peers, advance } = setup(['Established', 'Active']);
    sync.done = true;
    const r = health.readiness();
    expect(r.ok).toBe(false);
    expect(r.checks[1].detail).toMatch(/1 of 2 peers Established; all must be within 30 s.*10\.0\.0\.3 Active/);
    advance(29_999);
    expect(health.readiness().ok).toBe(false);
    peers[1].state = 'Established';
    expect(health.readiness().ok).toBe(true);
  });

  it('after 30 s needs at least one peer Established', () => {
    const { health, sync, peers, advance } = setup(['Established', 'Active']);
    sync.done = true;
    advance(30_000);
    expect(health.readiness().ok).toBe(true);
    peers[0].state = 'Idle';
    const r = health.readiness();
    expect(r.ok).toBe(false);
    expect(r.checks[1].detail).toBe('0 of 2 peers Established; at least one must be');
  });
});

describe('liveness', () => {
  it('fails when a component check fails or throws', () => {
    let healthy = true;
    const health = new Health({
      sync: new MemorySync(),
      peers: { peers: () => [] },
      liveness: [() => ({ name: 'dataplane', ok: healthy, detail: healthy ? 'loop ran' : 'loop stuck for 120 s' })],
    });
    expect(health.liveness().ok).toBe(true);
    healthy = false;
    expect(health.liveness()).toMatchObject({ ok: false, checks: [{ ok: true }, { name: 'dataplane', ok: false }] });
  });
});

describe('health endpoint over HTTP', () => {
  it('answers /livez 200, /readyz 503 with reasons then 200, and 404 elsewhere', async () => {
    const { health, sync } = setup([]);
    const ep = await listenHttp('health', { host: '127.0.0.1', port: 0 }, health.handle);
    try {
      const base = `http://127.0.0.1:${ep.address.port}`;
      const live = await fetch(`${base}/livez`);
      expect([live.status, await live.text()]).toEqual([200, 'ok\n']);
      const notReady = await fetch(`${base}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.text()).toBe('[-]datastore failed: not synced yet\n[+]bgp ok: no peers configured\nreadyz check failed\n');
      sync.done = true;
      const ready = await fetch(`${base}/readyz?verbose`);
      expect(ready.status).toBe(200);
      expect(await ready.text()).toContain('[+]datastore ok: synced');
      expect((await fetch(`${base}/metrics`)).status).toBe(404);
      expect((await fetch(`${base}/readyz`, { method: 'POST' })).status).toBe(405);
    } finally {
      await ep.stop();
    }
  });
});
