/**
 * `tortie agent` end to end through bin/tortie, in a namespace the test creates: the control
 * socket answers `tortie status`, metrics and health listen inside the namespace, SIGTERM removes
 * the socket and exits 0, a second agent on the same socket is refused, and a socket left by a
 * killed agent is taken over by the next one.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../src/agent/control.ts';
import { Netns, run, uniqueName } from '../../src/netns/netns.ts';

const bin = new URL('../../bin/tortie', import.meta.url).pathname;
let ns: Netns;
let dir: string;
let datastore: string;

beforeAll(async () => {
  ns = await Netns.create(uniqueName('ta'));
  await ns.ipBatch(['link add ens5 type veth peer name ens5p', 'addr add 10.1.0.2/24 dev ens5', 'link set ens5p up', 'link set ens5 up']);
  dir = mkdtempSync(join(tmpdir(), 'ta-agent-'));
  datastore = join(dir, 'cluster.yaml');
  writeFileSync(datastore, '');
});

afterAll(async () => {
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Agent {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startAgent(sock: string, extra: string[] = []): Agent {
  const child = ns.spawn(bin, ['agent', '--node-name', 'ta-node', '--datastore', `file:${datastore}`, '--control-socket', sock, '--log-format', 'json', ...extra]);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stderr: () => err, exited };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${(last as Error)?.message ?? ''}`);
}

/** GET from inside the namespace, where the agent's endpoints listen. */
async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const script = `fetch(${JSON.stringify(url)}).then(async r => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })))`;
  const { stdout } = await ns.exec(process.execPath, ['-e', script]);
  return JSON.parse(stdout);
}

async function tortie(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(bin, args);
    return { code: 0, ...r };
  } catch (e) {
    const cause = (e as { cause?: { code?: number; stdout?: string; stderr?: string } }).cause;
    return { code: cause?.code ?? -1, stdout: cause?.stdout ?? '', stderr: cause?.stderr ?? '' };
  }
}

describe('tortie agent in a namespace', () => {
  it('serves status, metrics and health, refuses a second agent, and shuts down cleanly on SIGTERM', async () => {
    const sock = join(dir, 'run', 'a.sock');
    const agent = startAgent(sock, ['--metrics-listen', '127.0.0.1:9091', '--health-listen', '127.0.0.1:9099']);
    try {
      await waitFor('the control socket', async () => (await controlRequest(sock, 'ping').catch(() => undefined)) ?? undefined);
      expect(statSync(sock).mode & 0o777).toBe(0o600);

      const status = await tortie(['status', '--json', '--control-socket', sock]);
      expect(status.code).toBe(0);
      const parsed = JSON.parse(status.stdout);
      expect(parsed.node).toMatchObject({ name: 'ta-node', ipv4Address: '10.1.0.2', ipv6Address: null });
      expect(parsed.peers).toEqual([]);
      expect(Object.keys(parsed)).toEqual(['node', 'peers']);
      const text = await tortie(['status', '--control-socket', sock]);
      expect(text.stdout).toContain('ready: no (datastore: not synced yet)');
      expect(text.stdout).toContain('No IPv4 peers found.');

      const log = agent.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(log.find((l) => l.family === 'ipv4')).toMatchObject({ address: '10.1.0.2', interface: 'ens5', source: 'autodetect', msg: expect.stringContaining('first-found') });

      const metrics = await waitFor('metrics', async () => httpGet('http://127.0.0.1:9091/metrics'));
      expect(metrics.status).toBe(200);
      expect(metrics.body).toMatch(/^tortie_build_info\{version="[^"]+",node="ta-node"\} 1$/m);
      expect(metrics.body).toMatch(/^tortie_datastore_synced 0$/m);
      expect(await httpGet('http://127.0.0.1:9099/livez')).toEqual({ status: 200, body: 'ok\n' });
      const ready = await httpGet('http://127.0.0.1:9099/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toContain('[-]datastore failed: not synced yet');

      const second = startAgent(sock, ['--metrics-listen', 'off', '--health-listen', 'off']);
      expect(await second.exited).toBe(1);
      expect(second.stderr()).toMatch(/another agent is listening on .*a\.sock.*TORTIE_CONTROL_SOCKET_IN_USE/);
      expect(await controlRequest(sock, 'ping')).toEqual({ pong: true });

      // SIGHUP reloads without stopping anything.
      agent.child.kill('SIGHUP');
      await waitFor('the reload', async () => (agent.stderr().includes('SIGHUP: reloading configuration') ? true : undefined));
      expect(await controlRequest(sock, 'ping')).toEqual({ pong: true });

      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
      expect(existsSync(sock)).toBe(false);
      expect(agent.stderr()).toContain('"msg":"shutdown complete"');
    } finally {
      agent.child.kill('SIGKILL');
    }
  });

  it('takes over the socket left by a killed agent; the CLI meanwhile says it is not running', async () => {
    const sock = join(dir, 'b.sock');
    const first = startAgent(sock, ['--metrics-listen', 'off', '--health-listen', 'off']);
    await waitFor('the first agent', async () => (await controlRequest(sock, 'ping').catch(() => undefined)) ?? undefined);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(existsSync(sock)).toBe(true);
    const r = await tortie(['status', '--control-socket', sock]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nothing listens on .*b\.sock: the agent is not running/);

    const next = startAgent(sock, ['--metrics-listen', 'off', '--health-listen', 'off']);
    try {
      await waitFor('the next agent', async () => (await controlRequest(sock, 'ping').catch(() => undefined)) ?? undefined);
      expect(JSON.parse((await tortie(['status', '--json', '--control-socket', sock])).stdout).node.name).toBe('ta-node');
      next.child.kill('SIGTERM');
      expect(await next.exited).toBe(0);
    } finally {
      next.child.kill('SIGKILL');
    }
  });

  it('refuses a datastore file it cannot read, naming the setting', async () => {
    const agent = startAgent(join(dir, 'c.sock'), ['--datastore', `file:${join(dir, 'missing.yaml')}`, '--metrics-listen', 'off', '--health-listen', 'off']);
    expect(await agent.exited).toBe(1);
    expect(agent.stderr()).toMatch(/--datastore \(TORTIE_DATASTORE\) file:.*missing\.yaml: cannot read the file \(ENOENT\)/);
  });
});
