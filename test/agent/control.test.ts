import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlServer, controlRequest, routesQueryFrom, type RoutesResult, type StatusResult } from '../../src/agent/control.ts';
import { MemoryKernel, MemoryRoutes, MemoryStatus, T0 } from './fixtures/memory-sources.ts';

let dir: string;
let servers: ControlServer[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ta-ctl-'));
  servers = [];
});
afterEach(async () => {
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function start(path = join(dir, 'run', 'tortie.sock'), kernel = new MemoryKernel(), status = new MemoryStatus()) {
  const s = new ControlServer(path, { status, routes: new MemoryRoutes(), kernel });
  await s.start();
  servers.push(s);
  return s;
}

/** Sends raw lines and collects `n` answer lines. */
function raw(path: string, text: string, n: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let buf = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(text));
    c.on('data', (d: string) => {
      buf += d;
      const lines = buf.split('\n').filter(Boolean);
      if (lines.length >= n) {
        c.destroy();
        resolve(lines.map((l) => JSON.parse(l)));
      }
    });
    c.on('error', reject);
  });
}

describe('control socket', () => {
  it('is created owner-only (0600) in a directory it creates', async () => {
    const s = await start();
    const st = statSync(s.path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('answers status with ISO times and the peers as the source gives them', async () => {
    const s = await start();
    const r = (await controlRequest(s.path, 'status')) as StatusResult;
    expect(r.node).toMatchObject({ name: 'node-a', asNumber: 64512, startedAt: new Date(T0).toISOString() });
    expect(r.peers.map((p) => [p.address, p.state, p.since])).toEqual([
      ['10.0.0.2', 'Established', '2026-11-26T02:00:05.000Z'],
      ['10.0.0.254', 'Active', '2026-11-26T02:00:07.000Z'],
      ['fd00::2', 'OpenConfirm', '2026-11-26T02:00:09.000Z'],
    ]);
  });

  it('answers routes with the kernel entries of each prefix, asking the kernel only for those prefixes', async () => {
    const kernel = new MemoryKernel();
    const s = await start(undefined, kernel);
    const r = (await controlRequest(s.path, 'routes', { prefix: '10.65.1.5' })) as RoutesResult;
    expect(r.routes.map((x) => [x.prefix, x.peer, x.best])).toEqual([
      ['10.65.1.0/26', '10.0.0.2', true],
      ['10.65.1.0/26', '10.0.0.254', false],
    ]);
    expect(r.routes[0].kernel).toEqual([expect.objectContaining({ gateway: '10.0.0.2', owned: true })]);
    expect(kernel.asked).toEqual([['10.65.1.0/26']]);
    const all = (await controlRequest(s.path, 'routes')) as RoutesResult;
    expect(all.routes).toHaveLength(4);
    expect(all.routes.find((x) => x.prefix === 'fd00:65::/122')?.kernel).toEqual([]);
  });

  it('answers several requests on one connection in order, and errors without closing', async () => {
    const s = await start();
    const replies = (await raw(s.path, '{"id":1,"method":"ping"}\nnot json\n{"id":3,"method":"frob"}\n{"id":4,"method":"routes","params":{"prefix":"banana"}}\n["x"]\n{"id":6,"method":"ping"}\n', 6)) as { id: unknown; ok: boolean; error?: { code: string } }[];
    expect(replies.map((r) => [r.id, r.ok, r.error?.code])).toEqual([
      [1, true, undefined],
      [null, false, 'TORTIE_CONTROL_BAD_REQUEST'],
      [3, false, 'TORTIE_CONTROL_UNKNOWN_METHOD'],
      [4, false, 'TORTIE_CONTROL_BAD_PARAMS'],
      [null, false, 'TORTIE_CONTROL_BAD_REQUEST'],
      [6, true, undefined],
    ]);
  });

  it('hangs up on a request line longer than 64 KiB, after saying why, and keeps serving others', async () => {
    const s = await start();
    const [reply] = (await raw(s.path, 'x'.repeat(70 * 1024), 1)) as { ok: boolean; error: { code: string; message: string } }[];
    expect(reply).toMatchObject({ ok: false, error: { code: 'TORTIE_CONTROL_BAD_REQUEST', message: expect.stringContaining('longer than') } });
    expect(await controlRequest(s.path, 'ping')).toEqual({ pong: true });
  });

  it('turns a failing source into an error answer and keeps serving', async () => {
    const status = new MemoryStatus();
    status.peers = () => {
      throw new Error('speaker exploded');
    };
    const s = await start(undefined, undefined, status);
    await expect(controlRequest(s.path, 'status')).rejects.toMatchObject({ code: 'TORTIE_CONTROL_REQUEST_FAILED', message: expect.stringContaining('speaker exploded') });
    expect(await controlRequest(s.path, 'ping')).toEqual({ pong: true });
  });

  it('replaces a stale socket left by a dead agent', async () => {
    const path = join(dir, 'stale.sock');
    // A process that bound the path and died without unlinking it (like a SIGKILLed agent).
    execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
    expect(existsSync(path)).toBe(true);
    await expect(controlRequest(path, 'ping')).rejects.toMatchObject({ code: 'TORTIE_AGENT_UNREACHABLE', message: expect.stringContaining('nothing listens') });
    const s = await start(path);
    expect(await controlRequest(s.path, 'ping')).toEqual({ pong: true });
  });

  it('refuses to take over a socket another agent listens on, or a path that is not a socket', async () => {
    const s = await start();
    await expect(new ControlServer(s.path, { status: new MemoryStatus(), routes: new MemoryRoutes(), kernel: new MemoryKernel() }).start()).rejects.toMatchObject({ code: 'TORTIE_CONTROL_SOCKET_IN_USE', message: expect.stringContaining('another agent') });
    expect(await controlRequest(s.path, 'ping')).toEqual({ pong: true });
    const file = join(dir, 'file.sock');
    writeFileSync(file, 'precious');
    await expect(new ControlServer(file, { status: new MemoryStatus(), routes: new MemoryRoutes(), kernel: new MemoryKernel() }).start()).rejects.toThrow(/not a socket/);
    expect(statSync(file).isFile()).toBe(true);
  });

  it('removes the socket on stop, after which clients are told the agent is not running', async () => {
    const s = await start();
    await s.stop();
    servers = [];
    expect(existsSync(s.path)).toBe(false);
    await expect(controlRequest(s.path, 'status')).rejects.toMatchObject({ code: 'TORTIE_AGENT_UNREACHABLE', message: expect.stringContaining('the agent is not running') });
  });

  it('reports an agent that accepts but never answers, within the timeout', async () => {
    const path = join(dir, 'mute.sock');
    const mute = createServer(() => undefined);
    await new Promise<void>((r) => mute.listen(path, r));
    try {
      await expect(controlRequest(path, 'status', {}, { timeoutMs: 200 })).rejects.toThrow(/did not answer within 0.2 s/);
    } finally {
      mute.close();
    }
  });
});

describe('routes query', () => {
  it('selects a prefix exactly, canonicalised, and an address by longest match', () => {
    expect(routesQueryFrom(undefined)).toEqual({ match: 'all' });
    expect(routesQueryFrom('10.65.1.7/26')).toEqual({ match: 'exact', prefix: '10.65.1.0/26' });
    expect(routesQueryFrom('fd00:0065:0:0::1/64')).toEqual({ match: 'exact', prefix: 'fd00:65::/64' });
    expect(routesQueryFrom('2001:db8:0:1:0:0:0:0/64')).toEqual({ match: 'exact', prefix: '2001:db8:0:1::/64' });
    expect(routesQueryFrom('10.65.1.7')).toEqual({ match: 'longest', address: '10.65.1.7' });
    expect(() => routesQueryFrom('10.65.1.7/40')).toThrow(/neither a prefix/);
  });
});

describe('control socket: unusable paths', () => {
  it('reports a directory it cannot create with a typed error', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ta-ctl-'));
    try {
      writeFileSync(join(d, 'plain'), '');
      const s = new ControlServer(join(d, 'plain', 'sub', 'tortie.sock'), { status: new MemoryStatus(), routes: new MemoryRoutes(), kernel: new MemoryKernel() });
      await expect(s.start()).rejects.toMatchObject({ code: 'TORTIE_CONTROL_SOCKET_FAILED', message: expect.stringContaining('ENOTDIR') });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
