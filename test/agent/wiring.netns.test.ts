/**
 * The wired agent end to end: three dual-stack node namespaces on a switch, each running `bin/tortie agent`
 * with its own file datastore, control socket and endpoints. Asserts on `tortie status --json`,
 * `tortie routes --json`, the metrics endpoint and the kernel's tables:
 * - the mesh comes up and every node has the others' blocks (via their address, onlink), its own
 *   blackhole and pod routes, and the /32 of a pod outside any block;
 * - a pod added to the datastore reaches the other nodes' kernels;
 * - a BGPPeer added and removed at run time, by editing the datastore file; SIGHUP reloads;
 * - a bad edit is refused with an error naming the file, and the running state is kept;
 * - SIGTERM then restart: exit 0, socket gone, routes kept, and no route of ours deleted on any
 *   node while it happens (`ip monitor route`);
 * - BGPConfiguration nodeMeshPassword set and rotated on live agents: the mesh re-keys and comes
 *   back Established, a node with the wrong password is refused by the others' kernels (TCP MD5
 *   failures counted), and a BGPPeer that is not in the mesh is left alone;
 * - the cluster AS changed on live agents: every speaker is replaced, the mesh comes back at the
 *   new AS, and no node's kernel loses a route of ours meanwhile (`ip monitor route`).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../src/agent/control.ts';
import { hostVethName } from '../../src/cni/veth-name.ts';
import { Netns, Switch, run, uniqueName } from '../../src/netns/netns.ts';
import { waitFor } from '../helpers/wait-for.ts';

const bin = new URL('../../bin/tortie', import.meta.url).pathname;

interface NodeDef {
  name: string;
  addr: string;
  block: string;
  addr6: string;
  block6: string;
}
// Dual stack: IPv4 and IPv6 run separate mesh sessions, each family's routes over its own.
const NODES: NodeDef[] = [
  { name: 'tw-n1', addr: '198.51.100.11', block: '10.66.1.0/24', addr6: '2001:db8:66::11', block6: 'fd00:66:1::/64' },
  { name: 'tw-n2', addr: '198.51.100.12', block: '10.66.2.0/24', addr6: '2001:db8:66::12', block6: 'fd00:66:2::/64' },
  { name: 'tw-n3', addr: '198.51.100.13', block: '10.66.3.0/24', addr6: '2001:db8:66::13', block6: 'fd00:66:3::/64' },
];
interface PodDef {
  name: string;
  node: string;
  ip: string;
}

let sw: Switch;
const nss = new Map<string, Netns>();
let dir: string;
let pods: PodDef[] = [
  { name: 'web', node: 'tw-n1', ip: '10.66.1.5' },
  // Outside every block: advertised as its own /32.
  { name: 'odd', node: 'tw-n2', ip: '10.99.0.7' },
];
let peers: string[] = [];
/** The cluster's AS (BGPConfiguration default's asNumber), changed at run time by the last test. */
let clusterAs = 64512;
/** Extra lines for BGPConfiguration default's spec (the mesh password test). */
let meshSpec = '';

function clusterYaml(): string {
  const docs: string[] = [
    `apiVersion: tortie.dev/v1alpha1\nkind: BGPConfiguration\nmetadata:\n  name: default\nspec:\n  asNumber: ${clusterAs}\n  nodeToNodeMeshEnabled: true\n${meshSpec}`,
  ];
  for (const n of NODES) {
    docs.push(`apiVersion: v1\nkind: Node\nmetadata:\n  name: ${n.name}\nspec:\n  podCIDRs: [${n.block}, ${n.block6}]\nstatus:\n  addresses:\n    - type: InternalIP\n      address: ${n.addr}\n    - type: InternalIP\n      address: ${n.addr6}\n`);
  }
  for (const p of pods) {
    docs.push(`apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${p.name}\n  namespace: default\nspec:\n  nodeName: ${p.node}\nstatus:\n  phase: Running\n  podIPs:\n    - ip: ${p.ip}\n`);
  }
  docs.push(...peers);
  return docs.join('---\n');
}

const datastoreOf = (n: string) => join(dir, `${n}.yaml`);
const socketOf = (n: string) => join(dir, n, 'tortie.sock');

/** Writes every node's datastore file atomically, as an editor or the lab would. */
function writeDatastores(text = clusterYaml()): void {
  for (const n of NODES) {
    writeFileSync(`${datastoreOf(n.name)}.tmp`, text);
    renameSync(`${datastoreOf(n.name)}.tmp`, datastoreOf(n.name));
  }
}

interface Agent {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}
const agents = new Map<string, Agent>();

function startAgent(node: string): Agent {
  const ns = nss.get(node)!;
  const child = ns.spawn(process.execPath, [
    bin, 'agent', '--node-name', node, '--datastore', `file:${datastoreOf(node)}`, '--control-socket', socketOf(node),
    '--metrics-listen', '127.0.0.1:9091', '--health-listen', '127.0.0.1:9099', '--log-format', 'json', '--graceful-restart-time', '60',
  ]);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', () => undefined);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const a = { child, log: () => err, exited };
  agents.set(node, a);
  return a;
}

async function tortie(node: string, args: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, [bin, ...args, '--json', '--control-socket', socketOf(node)], { timeoutMs: 15_000 });
  return JSON.parse(stdout);
}

interface StatusJson {
  node: { name: string; asNumber: number; ipv4Address: string; configErrors?: { code: string; subject: string; message: string }[] };
  peers: { address: string; type: string; state: string; asNumber: number }[];
}
const status = (node: string) => tortie(node, ['status']) as Promise<StatusJson>;

interface IpRoute {
  dst: string;
  type?: string;
  gateway?: string;
  dev?: string;
  flags?: string[];
}
async function kernelRoutes(node: string): Promise<IpRoute[]> {
  const { stdout } = await nss.get(node)!.ip('-4', '-json', 'route', 'show', 'proto', '116');
  return JSON.parse(stdout) as IpRoute[];
}

async function metrics(node: string): Promise<string> {
  const script = `fetch('http://127.0.0.1:9091/metrics').then(async r => process.stdout.write(await r.text()))`;
  return (await nss.get(node)!.exec(process.execPath, ['-e', script])).stdout;
}

const others = (node: string) => NODES.filter((n) => n.name !== node);

async function meshUp(node: string): Promise<void> {
  await waitFor(`${node}: mesh Established`, async () => {
    const s = await status(node);
    const mesh = s.peers.filter((p) => p.type === 'mesh');
    return mesh.length === 4 && mesh.every((p) => p.state === 'Established');
  }, 60_000, 200);
}

/** The other nodes' blocks via their address, onlink; our blackhole; the pod's /32. */
async function routesInPlace(node: string): Promise<void> {
  await waitFor(`${node}: every route in the kernel`, async () => {
    const routes = await kernelRoutes(node);
    const me = NODES.find((n) => n.name === node)!;
    const has = (dst: string, f: (r: IpRoute) => boolean) => routes.some((r) => r.dst === dst && f(r));
    const ok =
      has(me.block, (r) => r.type === 'blackhole') &&
      others(node).every((o) => has(o.block, (r) => r.gateway === o.addr && (r.flags ?? []).includes('onlink'))) &&
      pods.every((p) => {
        const host = NODES.find((n) => n.name === p.node)!;
        const inBlock = p.ip.startsWith(host.block.split('.').slice(0, 3).join('.') + '.');
        if (p.node === node) return has(p.ip, (r) => r.dev === hostVethName('default', p.name));
        return inBlock || has(p.ip, (r) => r.gateway === host.addr);
      });
    if (!ok) return undefined;
    const { stdout } = await nss.get(node)!.ip('-6', '-json', 'route', 'show', 'proto', '116');
    const v6 = JSON.parse(stdout) as IpRoute[];
    return (
      v6.some((r) => r.dst === me.block6 && r.type === 'blackhole') &&
      others(node).every((o) => v6.some((r) => r.dst === o.block6 && r.gateway === o.addr6 && (r.flags ?? []).includes('onlink')))
    ) || undefined;
  }, 30_000, 100);
}

/** Gives the pods of a node their host-side veth (named as the CNI plugin names it). */
async function addVeth(p: PodDef): Promise<void> {
  const ns = nss.get(p.node)!;
  const v = hostVethName('default', p.name);
  await ns.ipBatch([`link add ${v} type veth peer name ${v.slice(0, 12)}p`, `link set ${v} up`, `link set ${v.slice(0, 12)}p up`]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tw-wiring-'));
  sw = await Switch.create(uniqueName('tw'));
  for (const n of NODES) {
    const ns = await Netns.create(uniqueName('tw'));
    nss.set(n.name, ns);
    mkdirSync(join(dir, n.name));
    await sw.connect(ns, 'ens3', [`${n.addr}/24`, `${n.addr6}/64`]);
  }
  for (const p of pods) await addVeth(p);
  writeDatastores();
  for (const n of NODES) startAgent(n.name);
  try {
    for (const n of NODES) await waitFor(`${n.name}: control socket`, async () => (await controlRequest(socketOf(n.name), 'ping').catch(() => undefined)) ?? undefined, 60_000, 100);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${dumpLogs()}`, { cause: e });
  }
}, 120_000);

afterAll(async () => {
  for (const a of agents.values()) if (a.child.exitCode === null) a.child.kill('SIGKILL');
  await Promise.all([...agents.values()].map((a) => a.exited));
  for (const ns of nss.values()) await ns.destroy();
  await sw?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `ip monitor route` on every node; `deleted()` lists the deletions of tortie's routes (proto 116). */
async function watchRouteDeletions(): Promise<{ node: string; deleted: () => string[]; stop: () => void }[]> {
  const monitors = NODES.map((n) => {
    const child = nss.get(n.name)!.spawn('ip', ['monitor', 'route']);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    return {
      node: n.name,
      deleted: () => out.split('\n').filter((l) => l.startsWith('Deleted') && l.includes('proto 116')),
      stop: () => child.kill('SIGKILL'),
    };
  });
  await new Promise((r) => setTimeout(r, 300)); // let the monitors subscribe
  return monitors;
}

function dumpLogs(): string {
  return [...agents].map(([n, a]) => `--- ${n}\n${a.log().split('\n').slice(-40).join('\n')}`).join('\n');
}

describe('tortie agent wired: three nodes on the file datastore', () => {
  it('brings the mesh up and puts every route in every kernel', async () => {
    try {
      for (const n of NODES) await meshUp(n.name);
      for (const n of NODES) await routesInPlace(n.name);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${dumpLogs()}`, { cause: e });
    }
    const s = await status('tw-n1');
    expect(s.node).toMatchObject({ name: 'tw-n1', asNumber: 64512, ipv4Address: '198.51.100.11' });
    expect(s.peers.map((p) => p.address).sort()).toEqual(['198.51.100.12', '198.51.100.13', '2001:db8:66::12', '2001:db8:66::13']);

    // `tortie routes`: the other node's block, best, from its peer, and ours in the kernel.
    const routes = (await tortie('tw-n1', ['routes', '10.66.2.0/24'])) as { prefix: string; nextHop: string; peer: string; best: boolean; reason: string; kernel: { owned: boolean; gateway: string }[] }[];
    expect(routes).toHaveLength(1);
    expect(routes[0]).toMatchObject({ prefix: '10.66.2.0/24', nextHop: '198.51.100.12', peer: '198.51.100.12', best: true, reason: 'only path' });
    expect(routes[0].kernel).toEqual([expect.objectContaining({ owned: true, gateway: '198.51.100.12' })]);
    const own = (await tortie('tw-n1', ['routes', '10.66.1.0/24'])) as { peer: string | null; kernel: { type: string }[] }[];
    expect(own[0]).toMatchObject({ peer: null, kernel: [expect.objectContaining({ type: 'blackhole' })] });

    const m = await metrics('tw-n1');
    expect(m).toMatch(/^tortie_bgp_session_state\{peer="198\.51\.100\.12",peer_as="64512",type="mesh"\} 6$/m);
    expect(m).toMatch(/^tortie_dataplane_routes\{kind="learned"\} 5$/m);
    expect(m).toMatch(/^tortie_dataplane_routes\{kind="workload"\} 1$/m);
    expect(m).toMatch(/^tortie_datastore_synced 1$/m);

    // The CNI's node state and the BGPStatus written through the datastore.
    expect(JSON.parse(readFileSync(join(dir, 'tw-n1', 'node.json'), 'utf8'))).toMatchObject({ version: 1, nodeName: 'tw-n1', podCIDRs: ['10.66.1.0/24', 'fd00:66:1::/64'] });
    await waitFor('BGPStatus of tw-n1', () => {
      const f = `${datastoreOf('tw-n1')}.tw-n1.status.yaml`;
      return existsSync(f) && readFileSync(f, 'utf8').includes('established: 4');
    }, 10_000, 100);
  });

  it('carries a new pod to the other nodes, and a BGPPeer added and removed at run time', async () => {
    const pod = { name: 'late', node: 'tw-n3', ip: '10.99.0.9' };
    await addVeth(pod);
    pods = [...pods, pod];
    writeDatastores();
    for (const n of NODES) await routesInPlace(n.name);

    peers = [`apiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata:\n  name: tor-switch\nspec:\n  peerIP: 198.51.100.50\n  asNumber: 65010\n  node: tw-n1\n`];
    writeDatastores();
    await waitFor('the BGPPeer on tw-n1', async () => (await status('tw-n1')).peers.find((p) => p.address === '198.51.100.50' && p.type === 'node' && p.asNumber === 65010));
    // Only the node it names.
    expect((await status('tw-n2')).peers.map((p) => p.address)).not.toContain('198.51.100.50');
    // A filter-only edit updates the live peer (soft reconfiguration) instead of replacing it.
    peers = [`${peers[0]}  exportFilters:\n    - action: Reject\n      matchOperator: In\n      cidr: 10.66.0.0/16\n`];
    writeDatastores();
    await waitFor('the in-place reconfiguration', () => agents.get('tw-n1')!.log().includes('BGP peer 198.51.100.50 reconfigured in place'), 10_000, 50);
    expect(agents.get('tw-n1')!.log().split('BGP peer 198.51.100.50 added')).toHaveLength(2);
    peers = [];
    writeDatastores();
    await waitFor('the BGPPeer gone from tw-n1', async () => ((await status('tw-n1')).peers.some((p) => p.address === '198.51.100.50') ? undefined : true));
    expect((await status('tw-n1')).peers.every((p) => p.state === 'Established')).toBe(true);

    // SIGHUP re-reads the datastore and resyncs the kernel; nothing running is disturbed.
    agents.get('tw-n2')!.child.kill('SIGHUP');
    await waitFor('the reload', () => agents.get('tw-n2')!.log().includes('SIGHUP: reloading configuration'), 10_000, 50);
    await meshUp('tw-n2');
    await routesInPlace('tw-n2');
  });

  it('runs a BGPPeer with a password only once its Secret is there, and never logs the password', async () => {
    const peer = `apiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata:\n  name: signed\nspec:\n  peerIP: 198.51.100.51\n  asNumber: 65010\n  node: tw-n1\n  password:\n    secretKeyRef: {name: bgp-passwords, key: signed}\n`;
    const secret = `apiVersion: v1\nkind: Secret\nmetadata: {name: bgp-passwords, namespace: tortie-system}\nstringData: {signed: wiring-test-md5-pw}\n`;
    peers = [peer];
    writeDatastores();
    // No Secret yet: refused (never run unsigned), and tortie status says why.
    const refused = await waitFor('the password refusal', async () => (await status('tw-n1')).node.configErrors?.find((e) => e.code === 'TORTIE_PEER_PASSWORD'));
    expect(refused).toMatchObject({ subject: 'BGPPeer signed', message: expect.stringContaining('bgp-passwords') });
    expect((await status('tw-n1')).peers.map((p) => p.address)).not.toContain('198.51.100.51');
    peers = [peer, secret];
    writeDatastores();
    await waitFor('the signed BGPPeer on tw-n1', async () => (await status('tw-n1')).peers.find((p) => p.address === '198.51.100.51'));
    expect((await status('tw-n1')).node.configErrors ?? []).toEqual([]);
    peers = [];
    writeDatastores();
    await waitFor('the signed BGPPeer gone', async () => ((await status('tw-n1')).peers.some((p) => p.address === '198.51.100.51') ? undefined : true));
    for (const a of agents.values()) expect(a.log()).not.toContain('wiring-test-md5-pw');
  });

  it('refuses a bad edit with an error naming the file, and keeps running as before', async () => {
    const bad = clusterYaml() + `---\napiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata:\n  name: broken\nspec:\n  peerIP: not-an-address\n  asNumber: 65010\n`;
    writeFileSync(`${datastoreOf('tw-n1')}.tmp`, bad);
    renameSync(`${datastoreOf('tw-n1')}.tmp`, datastoreOf('tw-n1'));
    const s = await waitFor('the refusal in tortie status', async () => {
      const st = await status('tw-n1');
      return st.node.configErrors?.length ? st : undefined;
    });
    expect(s.node.configErrors!.at(-1)).toMatchObject({ code: 'TK_DS_INVALID_OBJECT', subject: datastoreOf('tw-n1') });
    expect(s.node.configErrors!.at(-1)!.message).toMatch(/peerIP/);
    expect(agents.get('tw-n1')!.log()).toContain('configuration refused, running state kept');
    const text = (await run(process.execPath, [bin, 'status', '--control-socket', socketOf('tw-n1')])).stdout;
    expect(text).toContain('configuration refused (the running state is kept):');
    expect(s.peers.filter((p) => p.state === 'Established')).toHaveLength(4);
    await routesInPlace('tw-n1');
    writeDatastores();
  });

  it('SIGTERM and restart: exits 0, keeps the routes, and no node sees a route of ours flap', async () => {
    // Watch every node's table for deletions of tortie's routes while tw-n1 goes and comes back.
    const monitors = await watchRouteDeletions();
    try {
      const a = agents.get('tw-n1')!;
      a.child.kill('SIGTERM');
      expect(await a.exited).toBe(0);
      expect(existsSync(socketOf('tw-n1'))).toBe(false);
      expect(a.log()).toContain('"msg":"shutdown complete"');
      // The kernel keeps everything while the agent is away; the others keep its routes (GR helpers).
      await routesInPlace('tw-n1');
      const n2 = await kernelRoutes('tw-n2');
      expect(n2.some((r) => r.dst === '10.66.1.0/24' && r.gateway === '198.51.100.11')).toBe(true);

      const b = startAgent('tw-n1');
      await waitFor('the restarted agent', async () => (await controlRequest(socketOf('tw-n1'), 'ping').catch(() => undefined)) ?? undefined, 30_000, 100);
      await meshUp('tw-n1');
      await waitFor('adoption reconciled', () => b.log().includes('routes kept from before the restart reconciled'), 30_000, 100);
      expect(b.log()).toMatch(/"found":\d+/);
      // RFC 4724 4.1: the speaker deferred selection until the other nodes' End-of-RIB (not its timer).
      expect(b.log()).toMatch(/"why":"End-of-RIB from every graceful restart peer"/);
      for (const n of NODES) await routesInPlace(n.name);
      for (const m of monitors) expect(m.deleted(), `${m.node} saw tortie routes deleted`).toEqual([]);
    } finally {
      for (const m of monitors) m.stop();
    }
  });

  it('signs the mesh with nodeMeshPassword, re-keys it on rotation, and leaves a non-mesh BGPPeer alone', async () => {
    const secret = `apiVersion: v1\nkind: Secret\nmetadata: {name: mesh-password, namespace: tortie-system}\nstringData: {one: wiring-mesh-pw-1, two: wiring-mesh-pw-2}\n`;
    const tor = `apiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata:\n  name: tor-switch\nspec:\n  peerIP: 198.51.100.50\n  asNumber: 65010\n  node: tw-n1\n`;
    const usingKey = (key: string) => `  nodeMeshPassword:\n    secretKeyRef: {name: mesh-password, key: ${key}}\n`;
    /** TcpExt counters of a node's namespace (RFC 2385 segments the kernel refused). */
    const md5Failures = async (node: string) => {
      const lines = (await nss.get(node)!.exec('cat', ['/proc/net/netstat'])).stdout.split('\n').filter((l) => l.startsWith('TcpExt:'));
      const [names, values] = lines.map((l) => l.split(/\s+/));
      return Number(values[names.indexOf('TCPMD5Failure')]);
    };
    const allUp = async () => {
      for (const n of NODES) await meshUp(n.name);
    };
    try {
      peers = [tor, secret];
      writeDatastores();
      await waitFor('the BGPPeer on tw-n1', async () => (await status('tw-n1')).peers.find((p) => p.address === '198.51.100.50'));
      const n1 = agents.get('tw-n1')!;
      const from = n1.log().length;

      // The mesh password on every node: each re-creates its mesh sessions, signed.
      meshSpec = usingKey('one');
      writeDatastores();
      await waitFor('tw-n1 re-keyed its mesh', () => n1.log().slice(from).includes('BGP peer 198.51.100.12 added (mesh)'), 30_000, 100);
      await allUp();

      // tw-n1 alone moves to another password: the others' kernels refuse its signed segments.
      const before = await md5Failures('tw-n2');
      meshSpec = usingKey('two');
      writeFileSync(`${datastoreOf('tw-n1')}.tmp`, clusterYaml());
      renameSync(`${datastoreOf('tw-n1')}.tmp`, datastoreOf('tw-n1'));
      await waitFor('tw-n2 refusing tw-n1\'s new signature', async () => (await md5Failures('tw-n2')) > before, 30_000, 200);
      expect((await status('tw-n1')).peers.filter((p) => p.type === 'mesh' && p.state === 'Established')).toEqual([]);

      // The rest follow: the mesh is whole again.
      writeDatastores();
      await allUp();
      for (const n of NODES) await routesInPlace(n.name);
      const log = n1.log().slice(from);
      expect(log).not.toContain('BGP peer 198.51.100.50 removed');
      expect(log).not.toContain('BGP peer 198.51.100.50 added');
      expect((await status('tw-n1')).node.configErrors ?? []).toEqual([]);
      for (const a of agents.values()) expect(a.log()).not.toMatch(/wiring-mesh-pw/);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${dumpLogs()}`, { cause: e });
    }
  });

  it('applies a new cluster AS without a restart: the mesh re-forms at it and no route leaves a kernel', async () => {
    const monitors = await watchRouteDeletions();
    try {
      const from = new Map([...agents].map(([n, a]) => [n, a.log().length]));
      clusterAs = 64600;
      writeDatastores();
      for (const n of NODES) {
        await waitFor(`${n.name} at AS 64600 with its mesh Established`, async () => {
          const s = await status(n.name);
          const mesh = s.peers.filter((p) => p.type === 'mesh');
          return s.node.asNumber === 64600 && mesh.length === 4 && mesh.every((p) => p.state === 'Established' && p.asNumber === 64600);
        }, 60_000, 200);
      }
      for (const n of NODES) {
        const log = agents.get(n.name)!.log().slice(from.get(n.name));
        expect(log).toContain('AS number 64512 -> 64600');
        expect(log).toContain('every BGP session restarts with the new values');
        // The held routes go only once the new sessions have sent their tables.
        await waitFor(`${n.name}: held routes reconciled`, () => agents.get(n.name)!.log().slice(from.get(n.name)).includes('routes kept from before the restart reconciled'), 60_000, 100);
        await routesInPlace(n.name);
      }
      expect((await status('tw-n1')).node.configErrors ?? []).toEqual([]);
      for (const m of monitors) expect(m.deleted(), `${m.node} saw tortie routes deleted`).toEqual([]);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${dumpLogs()}`, { cause: e });
    } finally {
      for (const m of monitors) m.stop();
    }
  });
});
