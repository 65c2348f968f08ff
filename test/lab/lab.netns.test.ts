// The lab's own parts, which need no BGP between tortie agents: the topology, the router, pods
// wired by tortie-cni (reaching their node and each other on the same node), the datastore
// files, and `down` leaving nothing behind. Cross-node traffic needs the wired agent: test/e2e.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseObjectsFile } from '../../src/datastore/file/parse.ts';
import { Lab } from '../../src/lab/lab.ts';
import { Netns, run, uniqueName } from '../../src/netns/netns.ts';
import { LabStateError, processMatches, readState } from '../../src/lab/state.ts';
import type { RouterKind } from '../../src/lab/plan.ts';

async function rootNetwork(): Promise<string> {
  const parts = await Promise.all([run('ip', ['-o', 'addr', 'show']), run('ip', ['-4', 'route', 'show']), run('ip', ['-6', 'route', 'show'])]);
  return parts.map((p) => p.stdout).join('\n');
}

async function labNamespaces(prefix: string): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.split(/\s+/)[0])
    .filter((n) => n.startsWith(`${prefix}-`));
}

/** Brings a lab up for a describe block and always takes it down. */
function labFixture(options: { nodes: number; router: RouterKind; ipv6?: boolean; podsPerNode?: number }) {
  const ctx: { lab: Lab; prefix: string; stateDir: string; rootBefore: string } = { lab: undefined as unknown as Lab, prefix: uniqueName('tl'), stateDir: '', rootBefore: '' };
  beforeAll(async () => {
    ctx.rootBefore = await rootNetwork();
    // The lab owns its state directory: down removes it.
    ctx.stateDir = mkdtempSync(path.join(tmpdir(), 'tortie-lab-test-'));
    ctx.lab = await Lab.up({ stateDir: ctx.stateDir, prefix: ctx.prefix, ...options });
  });
  afterAll(async () => {
    // Whatever happened, nothing may be left: down from the state file if the test did not.
    if (!existsSync(ctx.stateDir)) return;
    await (ctx.lab ?? Lab.open(ctx.stateDir)).down();
  });
  return ctx;
}

describe('lab with BIRD, two nodes', () => {
  const ctx = labFixture({ nodes: 2, router: 'bird' });

  it('builds switch, router, client, nodes and one namespace per pod, and refuses a second lab in the same place', async () => {
    const names = await labNamespaces(ctx.prefix);
    const p = ctx.prefix;
    expect(names.sort()).toEqual(
      [`${p}-switch`, `${p}-router`, `${p}-client`, `${p}-node1`, `${p}-node2`, `${p}-node1-pod-a`, `${p}-node1-pod-b`, `${p}-node2-pod-a`, `${p}-node2-pod-b`].sort(),
    );
    await expect(Lab.up({ stateDir: ctx.stateDir, prefix: ctx.prefix, nodes: 1 })).rejects.toThrow(LabStateError);
    await expect(Lab.up({ stateDir: `${ctx.stateDir}-other`, prefix: ctx.prefix, nodes: 1 })).rejects.toThrow(/exist already/);
  });

  it('wires the underlay and the client link: router, nodes and client reach each other, all through namespaces', async () => {
    const { lab } = ctx;
    const router = await Netns.attach(lab.plan.router.netns);
    for (const n of lab.plan.nodes) {
      expect(await router.ping(n.ipv4, { timeoutS: 3 })).toBe(true);
      expect((await lab.nodeRoutes(n)).some((r) => r.startsWith(`default via ${lab.plan.router.ipv4}`))).toBe(true);
    }
    expect(await lab.clientPing(lab.plan.router.clientSideIpv4, 3)).toBe(true);
    expect(await lab.clientPing(lab.plan.router.ipv4, 3)).toBe(true);
    // The switch is a bridge with a port per router and node; no address on it.
    const sw = await Netns.attach(lab.plan.switchNetns);
    expect((await sw.ip('-o', 'link', 'show', 'master', 'br0')).stdout.trim().split('\n')).toHaveLength(3);
    expect((await sw.ip('-o', 'addr', 'show', 'dev', 'br0')).stdout).not.toMatch(/inet /);
  });

  it('runs BIRD with a session configured towards every node', async () => {
    const { lab } = ctx;
    const bird = lab.state.processes.find((p) => p.role === 'bird')!;
    expect(processMatches(bird.pid, 'bird')).toBe(true);
    const sessions = await lab.routerView!.sessions();
    expect(sessions.map((s) => s.peer)).toEqual(['198.51.100.11', '198.51.100.12']);
    // Without the wired agent no session establishes; each is a state RFC 4271 names.
    for (const s of sessions) expect(['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established']).toContain(s.state);
    expect(await lab.routerView!.describe()).toMatch(/node1\s+BGP/);
  });

  it('starts tortie agent per node with its own control socket, answering tortie status', async () => {
    const { lab } = ctx;
    await lab.waitForAgents();
    for (const n of lab.plan.nodes) {
      const s = await lab.agentStatus(n);
      expect(s.node.name).toBe(n.name);
      expect(s.node.ipv4Address).toBe(n.ipv4);
    }
  });

  it('creates pods with tortie-cni: addresses from the node CIDR, reaching their node and each other on the same node', async () => {
    const { lab } = ctx;
    for (const n of lab.plan.nodes) {
      const pods = lab.pods(n);
      expect(pods).toHaveLength(2);
      for (const pod of pods) {
        expect(pod.ips).toHaveLength(1);
        expect(pod.ips[0]).toMatch(new RegExp(`^10\\.244\\.${n.index}\\.\\d+$`));
        const ns = await Netns.attach(pod.netns);
        expect((await ns.ip('-o', 'addr', 'show', 'dev', 'eth0')).stdout).toContain(`${pod.ips[0]}/32`);
        expect((await ns.ip('route', 'show')).stdout).toMatch(/^default via 169\.254\.1\.1 dev eth0/m);
        expect(await ns.ping(n.ipv4, { timeoutS: 3 })).toBe(true);
        expect(await lab.nodePing(n, pod.ips[0], 3)).toBe(true);
        await lab.checkPod(pod);
      }
      // No bridge on the node: a /32 route per pod through its own veth.
      expect((await lab.nodeRoutes(n)).filter((r) => / dev tor\w+ /.test(r))).toHaveLength(2);
    }
    const sameNode = await lab.pingMatrix({ only: (from, to) => from.nodeName === to.nodeName, timeoutS: 3 });
    expect(sameNode).toHaveLength(4);
    expect(sameNode.filter((r) => !r.ok)).toEqual([]);
  });

  it('records the pods in every node datastore, and removes and adds pods the way the kubelet does', async () => {
    const { lab } = ctx;
    const readPods = (n: (typeof lab.plan.nodes)[number]) => {
      const parsed = parseObjectsFile(readFileSync(lab.datastoreFile(n), 'utf8'), 'cluster.yaml');
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
      return parsed.objects.flatMap((o) => (o.object.kind === 'Pod' ? [`${o.object.name} ${o.object.nodeName} ${o.object.podIPs.join(',')}`] : []));
    };
    const expected = lab.pods().map((p) => `${p.name} ${p.nodeName} ${p.ips.join(',')}`);
    for (const n of lab.plan.nodes) expect(readPods(n)).toEqual(expected);

    const node1 = lab.node(1);
    const gone = lab.pods(node1)[0];
    await lab.deletePod(gone);
    expect(await Netns.exists(gone.netns)).toBe(false);
    expect((await lab.nodeRoutes(node1)).some((r) => r.startsWith(`${gone.ips[0]} `))).toBe(false);
    for (const n of lab.plan.nodes) expect(readPods(n).some((l) => l.startsWith(`${gone.name} `))).toBe(false);

    const added = await lab.addPod(node1);
    expect(lab.pods(node1)).toHaveLength(2);
    expect(added.ips[0]).toMatch(/^10\.244\.1\.\d+$/);
    expect(await lab.nodePing(node1, added.ips[0], 3)).toBe(true);
    for (const n of lab.plan.nodes) expect(readPods(n).some((l) => l.startsWith(`${added.name} ${node1.name} `))).toBe(true);
    expect(readState(lab.stateDir).pods.map((p) => p.name)).toContain(added.name);
  });

  it('restarts and kills an agent by PID', async () => {
    const { lab } = ctx;
    const n = lab.node(2);
    const before = lab.agentProcess(n)!.pid;
    await lab.killAgent(n);
    expect(lab.agentRunning(n)).toBe(false);
    const after = await lab.startAgent(n);
    expect(after).not.toBe(before);
    await lab.waitForAgents();
    expect((await lab.agentStatus(n)).node.name).toBe(n.name);
  });

  it('restarts the router (new PID recorded) and makes it announce routes, kept out of its own kernel', async () => {
    const { lab } = ctx;
    const before = lab.state.processes.find((p) => p.role === 'bird')!.pid;
    await lab.restartRouter();
    const after = readState(lab.stateDir).processes.find((p) => p.role === 'bird')!.pid;
    expect(after).not.toBe(before);
    expect(processMatches(after, 'bird')).toBe(true);
    expect(processMatches(before, 'bird')).toBe(false);
    await lab.announceFromRouter(['0.0.0.0/0', '10.244.2.0/25']);
    const routes = await lab.routerView!.routes('ipv4');
    expect(routes.map((r) => r.prefix).sort()).toEqual(['0.0.0.0/0', '10.244.2.0/25']);
    const router = await Netns.attach(lab.plan.router.netns);
    expect((await router.ip('route', 'show')).stdout).not.toMatch(/10\.244\.2\.0\/25|^default/m);
    await lab.announceFromRouter([]);
    expect(await lab.routerView!.routes('ipv4')).toEqual([]);
  });

  it('down stops every process, removes every namespace and file, and the root namespace was never touched', async () => {
    const { lab } = ctx;
    const recorded = lab.state.processes.map((p) => ({ ...p }));
    const dirs = [...lab.state.dirs];
    const report = await lab.down();
    expect(report.namespaces.length).toBe(9);
    // Every process was recorded: none had to be found inside the namespaces.
    expect(report.strays).toEqual([]);
    for (const p of recorded) expect(processMatches(p.pid, p.marker)).toBe(false);
    expect(await labNamespaces(ctx.prefix)).toEqual([]);
    for (const d of [...dirs, ctx.stateDir]) expect(existsSync(d)).toBe(false);
    expect(await rootNetwork()).toBe(ctx.rootBefore);
  });
});

describe('lab with FRR, one dual-stack node', () => {
  const ctx = labFixture({ nodes: 1, router: 'frr', ipv6: true });

  it('gives pods both families, reachable from the node and from each other', async () => {
    const { lab } = ctx;
    const [a, b] = lab.pods();
    expect(a.ips).toHaveLength(2);
    expect(a.ips[1]).toMatch(/^fd00:10:244:1::/);
    const results = await lab.pingMatrix({ timeoutS: 3 });
    expect(results.map((r) => r.address).sort()).toEqual([...a.ips, ...b.ips].sort());
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(await lab.nodePing(lab.node(1), a.ips[1], 3)).toBe(true);
    expect(await lab.clientPing(lab.plan.router.clientSideIpv6!, 3)).toBe(true);
  });

  it('runs zebra and bgpd with an IPv4 and an IPv6 session configured, and down stops both', async () => {
    const { lab } = ctx;
    expect(lab.state.processes.map((p) => p.role).sort()).toEqual(['agent ' + lab.node(1).name, 'bgpd', 'zebra'].sort());
    expect((await lab.routerView!.sessions()).map((s) => s.peer)).toEqual(['198.51.100.11', '2001:db8::11']);
    const recorded = lab.state.processes.map((p) => ({ ...p }));
    await lab.down();
    for (const p of recorded) expect(processMatches(p.pid, p.marker)).toBe(false);
    expect(await labNamespaces(ctx.prefix)).toEqual([]);
  });
});

describe('lab with GoBGP, one node and no pods', () => {
  const ctx = labFixture({ nodes: 1, router: 'gobgp', podsPerNode: 0 });

  it('runs gobgpd detached from the lab process and answers through its CLI; down stops it', async () => {
    const { lab } = ctx;
    const gobgpd = lab.state.processes.find((p) => p.role === 'gobgpd')!;
    expect(processMatches(gobgpd.pid, 'gobgpd')).toBe(true);
    // Its own process group: it outlives the command that started it.
    expect(Number((await run('ps', ['-o', 'pgid=', '-p', String(gobgpd.pid)])).stdout.trim())).toBe(gobgpd.pid);
    expect((await lab.routerView!.sessions()).map((s) => s.peer)).toEqual(['198.51.100.11']);
    await lab.down();
    expect(processMatches(gobgpd.pid, 'gobgpd')).toBe(false);
    expect(await labNamespaces(ctx.prefix)).toEqual([]);
  });
});
