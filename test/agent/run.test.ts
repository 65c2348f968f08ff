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
import { runAgent, type AgentParts } from '../../src/agent/run.ts';
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

function harness() {
  const status = new MemoryStatus();
  const sync = new MemorySync();
  const stopped: string[] = [];
  const proc = new EventEmitter() as EventEmitter & ProcessLike;
  const exits: number[] = [];
  let exited!: () => void;
  const exitedP = new Promise<void>((r) => (exited = r));
  const lines: Record<string, unknown>[] = [];
  const parts = (): AgentParts => ({
    status,
    routes: new MemoryRoutes(),
    kernel: new MemoryKernel(),
    sync,
    components: ['datastore', 'dataplane', 'speaker'].map((name) => ({ name, stop: () => void stopped.push(name) })),
  });
  const opts = { host, parts, proc, exit: (c: number) => (exits.push(c), exited()), logStream: { write: (l: string) => lines.push(JSON.parse(l)) } };
  return { status, sync, stopped, proc, exits, exitedP, lines, opts };
}

describe('runAgent with parts', () => {
  it('serves the parts through the control socket, metrics and health, and stops them last on SIGTERM', async () => {
    const sock = join(dir, 'tortie.sock');
    const h = harness();
    const agent = await runAgent(config(sock), h.opts);
    try {
      expect(agent.addresses.ipv4).toMatchObject({ address: '10.0.0.1', interface: 'ens3', source: 'autodetect' });
      const st = (await controlRequest(sock, 'status')) as StatusResult;
      expect(st.peers.map((p) => p.address)).toEqual(['10.0.0.2', '10.0.0.254', 'fd00::2']);

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
      expect(h.stopped).toEqual(['speaker', 'dataplane', 'datastore']);
      expect(existsSync(sock)).toBe(false);
      await expect(fetch(readyz)).rejects.toThrow();
      const order = h.lines.filter((l) => l.msg === 'stopped').map((l) => l.component);
      expect(order).toEqual(['control socket', 'metrics endpoint', 'health endpoint', 'speaker', 'dataplane', 'datastore']);
    } finally {
      agent.lifecycle.uninstallSignalHandlers();
      await agent.lifecycle.shutdownWithoutExit('test cleanup');
    }
  });

  it('undoes a half-done start: a busy control socket stops what already started, then reports', async () => {
    const sock = join(dir, 'busy.sock');
    const first = harness();
    const running = await runAgent(config(sock), first.opts);
    try {
      const second = harness();
      await expect(runAgent(config(sock), second.opts)).rejects.toMatchObject({ code: 'TORTIE_CONTROL_SOCKET_IN_USE' });
      expect(second.stopped).toEqual(['speaker', 'dataplane', 'datastore']);
      expect(second.lines.filter((l) => l.msg === 'stopped').map((l) => l.component)).toEqual(['metrics endpoint', 'health endpoint', 'speaker', 'dataplane', 'datastore']);
      expect(await controlRequest(sock, 'ping')).toEqual({ pong: true });
    } finally {
      running.lifecycle.uninstallSignalHandlers();
      await running.lifecycle.shutdownWithoutExit('test cleanup');
    }
  });
});
