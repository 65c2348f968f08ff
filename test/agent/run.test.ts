/**
 * The agent's shell with parts plugged in, in process: the shape the wiring phase fills with the
 * speaker, dataplane and datastore. In-memory parts stand in for them here.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostNetwork } from '../../src/agent/autodetect.ts';
import { loadAgentConfig, type LoadedConfig } from '../../src/agent/config.ts';
import { controlRequest, type StatusResult } from '../../src/agent/control.ts';
import type { ProcessLike } from '../../src/agent/lifecycle.ts';
import { runAgent, type AgentContext, type AgentParts, type PartsFactory } from '../../src/agent/run.ts';
import { MemoryKernel, MemoryRoutes, MemoryStatus, MemorySync } from './fixtures/memory-sources.ts';

const host: HostNetwork = {
  interfaces: async () => [
    { name: 'lo', index: 1, up: true, addresses: [{ address: '127.0.0.1', prefixLength: 8, family: 4 }] },
    { name: 'ens3', index: 2, up: true, addresses: [{ address: '10.0.0.1', prefixLength: 24, family: 4 }] },
  ],
  routeGet: async () => null,
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ta-run-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function config(sock: string): LoadedConfig {
  const parsed = loadAgentConfig(['--node-name', 'ta-run', '--control-socket', sock, '--log-level', 'debug'], {});
  if (parsed.help) throw new Error('help');
  // Any free port: the parser accepts only real ports.
  parsed.config.metricsListen = { host: '127.0.0.1', port: 0 };
  parsed.config.healthListen = { host: '127.0.0.1', port: 0 };
  return parsed;
}

function harness(factory?: PartsFactory) {
  const status = new MemoryStatus();
  const sync = new MemorySync();
  const stopped: string[] = [];
  const proc = new EventEmitter() as EventEmitter & ProcessLike;
  const exits: number[] = [];
  let exited!: () => void;
  const exitedP = new Promise<void>((r) => (exited = r));
  const lines: Record<string, unknown>[] = [];
  // What the wiring will do: start the parts in order, registering each for shutdown, and choose
  // the node address from what the datastore says about this node.
  const parts: PartsFactory =
    factory ??
    (async (ctx) => {
      for (const name of ['datastore', 'dataplane', 'speaker']) ctx.onStop({ name, stop: () => void stopped.push(name) });
      await ctx.resolveNodeAddresses({ ipv4: { annotation: '10.0.0.9/24', internalIPs: ['10.0.0.8'] }, ipv6: { internalIPs: ['fd00::8'] } });
      return { status, routes: new MemoryRoutes(), kernel: new MemoryKernel(), sync };
    });
  const opts = { host, parts, proc, exit: (c: number) => (exits.push(c), exited()), logStream: { write: (l: string) => lines.push(JSON.parse(l)) } };
  const stopOrder = () => lines.filter((l) => l.msg === 'stopped').map((l) => l.component);
  return { status, sync, stopped, proc, exits, exitedP, lines, opts, stopOrder };
}

describe('runAgent with parts', () => {
  it('serves the parts through the control socket, metrics and health, and stops them before the endpoints on SIGTERM', async () => {
    const sock = join(dir, 'tortie.sock');
    const h = harness();
    const agent = await runAgent(config(sock), h.opts);
    try {
      expect(agent.addresses?.ipv4).toMatchObject({ address: '10.0.0.9', prefixLength: 24, source: 'annotation' });
      expect(agent.addresses?.ipv6).toMatchObject({ address: 'fd00::8', source: 'internal-ip' });
      expect(h.lines.find((l) => l.family === 'ipv4')?.msg).toBe('node IPv4 address 10.0.0.9: from the Node annotation tortie.dev/bgp-ipv4-address');
      const st = (await controlRequest(sock, 'status')) as StatusResult;
      expect(st.peers.map((p) => p.address)).toEqual(['10.0.0.2', '10.0.0.254', 'fd00::2']);
      expect(st.readiness).toMatchObject({ ok: false, checks: [{ name: 'datastore', ok: false }, { name: 'bgp', ok: false }] });

      const metrics = await (await fetch(`http://127.0.0.1:${agent.endpoints.metrics!.port}/metrics`)).text();
      expect(metrics).toContain('tortie_bgp_session_state{peer="10.0.0.2",peer_as="64512",type="mesh"} 6');
      expect(metrics).toContain('tortie_build_info{version="0.1.0",node="ta-run"} 1');

      const readyz = `http://127.0.0.1:${agent.endpoints.health!.port}/readyz`;
      expect((await fetch(readyz)).status).toBe(503);
      h.sync.done = true;
      const notAll = await fetch(readyz);
      expect(notAll.status).toBe(503);
      expect(await notAll.text()).toContain('1 of 3 peers Established; all must be within 30 s of start');
      for (const p of h.status.peerList) p.state = 'Established';
      expect((await fetch(readyz)).status).toBe(200);

      h.proc.emit('SIGTERM');
      await h.exitedP;
      expect(h.exits).toEqual([0]);
      expect(h.stopOrder()).toEqual(['speaker', 'dataplane', 'datastore', 'CNI socket', 'control socket', 'metrics endpoint', 'health endpoint']);
      expect(existsSync(sock)).toBe(false);
      await expect(fetch(readyz)).rejects.toThrow();
    } finally {
      agent.lifecycle.uninstallSignalHandlers();
      await agent.lifecycle.shutdownWithoutExit('test cleanup');
    }
  });

  it('answers probes and status while the parts are still starting, and SIGTERM then stops cleanly', async () => {
    const sock = join(dir, 'starting.sock');
    let release!: (e: Error) => void;
    let ctxReady!: (ctx: AgentContext) => void;
    const gotCtx = new Promise<AgentContext>((r) => (ctxReady = r));
    const h = harness(async (ctx) => {
      ctx.onStop({ name: 'datastore', stop: () => undefined });
      ctxReady(ctx);
      // Like a first sync against an API server that is away.
      return new Promise<AgentParts>((_, reject) => (release = reject));
    });
    const running = runAgent(config(sock), h.opts);
    await gotCtx;
    const st = (await controlRequest(sock, 'status')) as StatusResult;
    expect(st.node).toMatchObject({ name: 'ta-run', ipv4Address: null });
    expect(st.peers).toEqual([]);
    const port = (h.lines.find((l) => l.msg === 'health endpoint listening (/livez, /readyz)')!.listen as string).split(':')[1];
    expect((await fetch(`http://127.0.0.1:${port}/livez`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    h.proc.emit('SIGTERM');
    await h.exitedP;
    expect(h.exits).toEqual([0]);
    expect(h.stopOrder()).toEqual(['datastore', 'CNI socket', 'control socket', 'metrics endpoint', 'health endpoint']);
    release(new Error('stopped'));
    await expect(running).rejects.toThrow('stopped');
  });

  it('undoes a half-done start: a busy control socket, or parts that fail, stop what had started', async () => {
    const sock = join(dir, 'busy.sock');
    const first = harness();
    const running = await runAgent(config(sock), first.opts);
    try {
      const second = harness();
      await expect(runAgent(config(sock), second.opts)).rejects.toMatchObject({ code: 'TORTIE_CONTROL_SOCKET_IN_USE' });
      expect(second.stopped).toEqual([]);
      expect(second.stopOrder()).toEqual(['metrics endpoint', 'health endpoint']);
      expect(await controlRequest(sock, 'ping')).toEqual({ pong: true });
    } finally {
      running.lifecycle.uninstallSignalHandlers();
      await running.lifecycle.shutdownWithoutExit('test cleanup');
    }
    const failing = harness(async (ctx) => {
      ctx.onStop({ name: 'datastore', stop: () => undefined });
      throw new Error('BGPConfiguration default: asNumber must be 1-4294967295');
    });
    await expect(runAgent(config(join(dir, 'fail.sock')), failing.opts)).rejects.toThrow(/asNumber/);
    expect(failing.stopOrder()).toEqual(['datastore', 'CNI socket', 'control socket', 'metrics endpoint', 'health endpoint']);
    expect(existsSync(join(dir, 'fail.sock'))).toBe(false);
  });
});
