/**
 * The C front end (native/tortie-cni-shim.c) as the kubelet runs it, forwarding to the agent's CNI
 * server (src/cni/server.ts, run here by src/cni/serve.ts in the test's host namespace), and
 * falling back to the Node plugin beside it when the server is absent or silent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest } from '../../src/cni/framing.ts';
import { ensureShim, SHIM_FALLBACK_NAME } from '../../src/cni/shim-binary.ts';
import { stopPid, type Netns } from '../../src/netns/netns.ts';
import { builtinConfig, CniNode, HOST_ADDRESS, PLUGIN, type CniCall } from './harness.ts';

const SERVE = new URL('../../src/cni/serve.ts', import.meta.url).pathname;

describe('tortie-cni shim -> agent CNI server', () => {
  let node: CniNode;
  let shim: string;
  let sock: string;
  let marker: string;
  let server: ChildProcess | undefined;
  let serverLog = '';
  let conf: Record<string, unknown>;
  const pods: Netns[] = [];

  beforeAll(async () => {
    const built = ensureShim();
    node = await CniNode.create({ prefix: 'tf' });
    const bin = join(node.dataDir, 'bin');
    mkdirSync(bin);
    // Copied, not linked: the shim finds its fallback beside /proc/self/exe.
    shim = join(bin, 'tortie-cni');
    copyFileSync(built, shim);
    marker = join(node.dataDir, 'fallback-ran');
    // The fallback leaves a mark, so tests can tell which side did the work.
    writeFileSync(join(bin, SHIM_FALLBACK_NAME), `#!/bin/sh\necho x >> ${marker}\nexec ${PLUGIN} "$@"\n`, { mode: 0o755 });
    sock = join(node.dataDir, 'cni.sock');
    conf = builtinConfig(node, { agentSocket: sock });
    server = spawn('ip', ['netns', 'exec', node.host.name, process.execPath, SERVE, sock, '4'], { stdio: ['ignore', 'pipe', 'inherit'] });
    server.stdout!.on('data', (d: Buffer) => (serverLog += d.toString()));
    const deadline = Date.now() + 60_000;
    while (!serverLog.includes('ready\n')) {
      if (Date.now() > deadline || server.exitCode !== null) throw new Error(`CNI server did not start: ${serverLog}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let i = 0; i < 3; i++) pods.push(await node.pod());
  }, 120_000);

  afterAll(async () => {
    if (server?.pid) await stopPid(server.pid);
    await node?.destroy();
  });

  const viaShim = (c: CniCall) => node.call({ ...c, plugin: shim });
  const sleepers: number[] = [];
  afterAll(async () => {
    for (const pid of sleepers) await stopPid(pid);
  });

  /** CNI_NETNS as cri-dockerd gives it: /proc/PID/ns/net of a process in the pod. */
  async function procNetns(pod: Netns): Promise<string> {
    const child = pod.spawn('sleep', ['600']);
    sleepers.push(child.pid!);
    const path = `/proc/${child.pid}/ns/net`;
    const want = (await pod.exec('readlink', ['/proc/self/ns/net'])).stdout.trim();
    const deadline = Date.now() + 10_000;
    while (readlinkSync(path) !== want) {
      if (Date.now() > deadline) throw new Error(`process ${child.pid} did not enter ${pod.name}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return path;
  }
  const call = (command: string, i: number, config: object = conf) =>
    viaShim({ command, containerId: `ctr-${i}`, netns: `/var/run/netns/${pods[i].name}`, ifname: 'eth0', args: `K8S_POD_NAMESPACE=tf;K8S_POD_NAME=p${i}`, config });

  it('listens on an owner-only socket', () => {
    expect(statSync(sock).mode & 0o777).toBe(0o600);
  });

  it('ADD, CHECK and DEL run in the server; the pod reaches its host; nothing is left', async () => {
    const add = await call('ADD', 0);
    expect(add.exitCode, add.stdout + add.stderr).toBe(0);
    const ip = (add.json as { ips: Array<{ address: string }> }).ips[0].address;
    expect(ip).toMatch(/^10\.77\.0\.\d+\/32$/);
    expect(await pods[0].ping(HOST_ADDRESS, { count: 1, timeoutS: 3 })).toBe(true);

    const check = await call('CHECK', 0, { ...conf, prevResult: add.json });
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
    const del = await call('DEL', 0);
    expect(del.exitCode, del.stdout + del.stderr).toBe(0);
    expect(del.stdout).toBe('');

    expect(serverLog).toContain('done ADD ctr-0 0');
    expect(serverLog).toContain('done CHECK ctr-0 0');
    expect(serverLog).toContain('done DEL ctr-0 0');
    expect(existsSync(marker)).toBe(false);
    expect(await node.extraHostLinks()).toEqual([]);
    expect(node.allocations('tnet')).toEqual([]);
  });

  it('serves a pod given as /proc/PID/ns/net when the agent shares the PID namespace', async () => {
    const netns = await procNetns(pods[2]);
    const c = { containerId: 'ctr-proc', netns, ifname: 'eth0', args: 'K8S_POD_NAMESPACE=tf;K8S_POD_NAME=proc', config: conf };
    const add = await viaShim({ command: 'ADD', ...c });
    expect(add.exitCode, add.stdout + add.stderr).toBe(0);
    expect(await pods[2].ping(HOST_ADDRESS, { count: 1, timeoutS: 3 })).toBe(true);
    const del = await viaShim({ command: 'DEL', ...c });
    expect(del.exitCode, del.stdout + del.stderr).toBe(0);
    expect(serverLog).toContain('done ADD ctr-proc 0');
    expect(serverLog).toContain('done DEL ctr-proc 0');
    expect(existsSync(marker)).toBe(false);
    expect(await node.extraHostLinks()).toEqual([]);
  });

  it('malformed input gives the same error JSON and exit status as the standalone plugin', async () => {
    const env = { TORTIE_CNI_SOCKET: sock };
    const cases: CniCall[] = [
      { command: 'ADD', containerId: 'ctr-m', netns: `/var/run/netns/${pods[0].name}`, ifname: 'eth0', config: '{"cniVersion": "1.1.0", "name": ', extraEnv: env },
      { command: 'ADD', containerId: 'ctr-m', ifname: 'eth0', config: conf, extraEnv: env },
      { command: 'FROB', containerId: 'ctr-m', config: conf, extraEnv: env },
      { command: 'ADD', containerId: 'ctr-m', netns: `/var/run/netns/${pods[0].name}`, ifname: 'eth0', config: { ...conf, cniVersion: '0.1.0' }, extraEnv: env },
      { command: 'ADD', config: conf, rawEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, extraEnv: env },
    ];
    const before = (serverLog.match(/^done /gm) ?? []).length;
    for (const c of cases) {
      const standalone = await node.call(c);
      const forwarded = await viaShim(c);
      expect(standalone.exitCode).not.toBe(0);
      expect({ exit: forwarded.exitCode, json: forwarded.json }).toEqual({ exit: standalone.exitCode, json: standalone.json });
      expect(forwarded.stderr).toBe(standalone.stderr);
    }
    expect((serverLog.match(/^done /gm) ?? []).length - before).toBe(cases.length);
    expect(existsSync(marker)).toBe(false);
  });

  it('serves concurrent ADDs with distinct addresses, and DEL frees them all', async () => {
    const n = 24;
    const many: Netns[] = await Promise.all(Array.from({ length: n }, () => node.pod()));
    const one = (command: string, i: number) =>
      viaShim({ command, containerId: `ctr-c${i}`, netns: `/var/run/netns/${many[i].name}`, ifname: 'eth0', args: `K8S_POD_NAMESPACE=tf;K8S_POD_NAME=c${i}`, config: conf });
    const adds = await Promise.all(many.map((_, i) => one('ADD', i)));
    for (const a of adds) expect(a.exitCode, a.stdout + a.stderr).toBe(0);
    const ips = adds.map((a) => (a.json as { ips: Array<{ address: string }> }).ips[0].address);
    expect(new Set(ips).size).toBe(n);
    expect(node.allocations('tnet')).toHaveLength(n);
    const dels = await Promise.all(many.map((_, i) => one('DEL', i)));
    for (const d of dels) expect(d.exitCode, d.stdout + d.stderr).toBe(0);
    expect(node.allocations('tnet')).toEqual([]);
    expect(await node.extraHostLinks()).toEqual([]);
    expect(existsSync(marker)).toBe(false);
  }, 180_000);

  it('survives garbage, truncated and oversized requests, and keeps serving', async () => {
    const send = (bytes: Buffer, end: boolean) =>
      new Promise<string>((resolve) => {
        const c = createConnection(sock);
        let got = '';
        c.on('data', (d) => (got += d.toString('latin1')));
        c.on('close', () => resolve(got));
        c.on('error', () => resolve(got));
        c.write(bytes, () => (end ? c.end() : setTimeout(() => c.destroy(), 200)));
      });
    expect(await send(Buffer.from('GET / HTTP/1.1\r\n\r\n'), true)).toBe('');
    expect(await send(Buffer.from([0x54, 0x43, 0x4e, 0x31, 0xff, 0xff, 0xff, 0xff]), true)).toBe('');
    expect(await send(encodeRequest({ env: { CNI_COMMAND: 'VERSION' }, stdin: '{}' }).subarray(0, 10), false)).toBe('');
    // Accepted, but the client leaves without the go: nothing may run.
    const before = (serverLog.match(/^done /gm) ?? []).length;
    expect(await send(encodeRequest({ env: { CNI_COMMAND: 'VERSION' }, stdin: '{}' }), false)).toBe('A');
    await new Promise((r) => setTimeout(r, 300));
    expect((serverLog.match(/^done /gm) ?? []).length).toBe(before);
    expect(server!.exitCode).toBeNull();
    const v = await viaShim({ command: 'VERSION', config: { cniVersion: '1.0.0', agentSocket: sock } });
    expect(v.json).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
    expect(serverLog).toContain('refused not a tortie-cni request');
  });

  describe('fallback to the Node plugin', () => {
    let silent: Server;
    let silentSock: string;

    beforeAll(async () => {
      silentSock = join(node.dataDir, 'silent.sock');
      // An agent that accepts connections, reads, and never answers (its event loop stuck, say).
      silent = createServer((s) => {
        s.on('error', () => undefined);
        s.resume();
      });
      await new Promise<void>((r) => silent.listen(silentSock, r));
    });

    afterAll(async () => {
      await new Promise((r) => silent.close(r));
    });

    it('hands /proc/PID/ns/net back to the front end when the agent is in another PID namespace', async () => {
      // An agent without hostPID: the same PID number there is another process.
      const otherSock = join(node.dataDir, 'other-pidns.sock');
      const other = spawn('ip', ['netns', 'exec', node.host.name, 'unshare', '--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, SERVE, otherSock, '1'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let otherLog = '';
      other.stdout!.on('data', (d: Buffer) => (otherLog += d.toString()));
      try {
        const deadline = Date.now() + 60_000;
        while (!otherLog.includes('ready\n')) {
          if (Date.now() > deadline || other.exitCode !== null) throw new Error(`CNI server did not start: ${otherLog}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        rmSync(marker, { force: true });
        const netns = await procNetns(pods[1]);
        const c = { containerId: 'ctr-pidns', netns, ifname: 'eth0', args: 'K8S_POD_NAMESPACE=tf;K8S_POD_NAME=pidns', config: { ...conf, agentSocket: otherSock } };
        const add = await viaShim({ command: 'ADD', ...c });
        expect(add.exitCode, add.stdout + add.stderr).toBe(0);
        expect(await pods[1].ping(HOST_ADDRESS, { count: 1, timeoutS: 3 })).toBe(true);
        const del = await viaShim({ command: 'DEL', ...c });
        expect(del.exitCode, del.stdout + del.stderr).toBe(0);
        expect(existsSync(marker)).toBe(true);
        expect(otherLog).toMatch(/^handed-back CNI_NETNS \/proc\/\d+\/ns\/net names a process in a PID namespace the agent does not share/m);
        expect(otherLog).not.toContain('done ');
        expect(await node.extraHostLinks()).toEqual([]);
      } finally {
        if (other.pid) await stopPid(other.pid);
      }
    });

    for (const [why, socket] of [
      ['no socket at all', () => join(node.dataDir, 'absent.sock')],
      ['an agent that does not answer in time', () => silentSock],
    ] as const) {
      it(`wires and unwires the pod with ${why}`, async () => {
        rmSync(marker, { force: true });
        const c = { ...conf, agentSocket: socket(), agentTimeoutMs: 300 };
        const add = await call('ADD', 1, c);
        expect(add.exitCode, add.stdout + add.stderr).toBe(0);
        expect(await pods[1].ping(HOST_ADDRESS, { count: 1, timeoutS: 3 })).toBe(true);
        const del = await call('DEL', 1, c);
        expect(del.exitCode, del.stdout + del.stderr).toBe(0);
        expect(existsSync(marker)).toBe(true);
        expect(serverLog).not.toContain('ctr-1');
        expect(node.allocations('tnet')).toEqual([]);
        expect(await node.extraHostLinks()).toEqual([]);
      });
    }
  });
});
