// The compose lab's routers, run as their containers would run them (each Dockerfile's CMD,
// with their configuration files from the repository) in namespaces at their compose addresses
// on one switch, facing stand-ins for the three tortie nodes: BIRD speakers at the nodes'
// addresses that do what compose/tortie/cluster.yaml asks of each node (its AS, its pod CIDR,
// a session to every BGPPeer that selects it). This shows that the routers' configurations,
// the compose addresses and the cluster file fit together before anyone runs Docker.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Netns, Switch, run, uniqueName } from '../../src/netns/netns.ts';
import { labClusterAs, labNodes, labPeers, peerSelectsNode } from './lab-cluster.ts';
import type { LabNode } from './lab-cluster.ts';
import { repoRoot } from './manifest-schemas.ts';

const tools = ['bird', 'birdc', 'gobgpd', 'gobgp', '/usr/lib/frr/bgpd', 'vtysh'];
const missing = tools.filter((t) => spawnSync(t, ['--version'], { stdio: 'ignore' }).error !== undefined);
const runnable = missing.length === 0 && userInfo().uid === 0;
if (!runnable) console.warn(`test/deploy/compose-peers.netns.test.ts: needs root and ${tools.join(', ')} (missing: ${missing.join(', ') || 'root'}); skipped`);

const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
type Service = { networks: Record<string, { ipv4_address: string }> };
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; networks: { lab: { ipam: { config: { subnet: string }[] } } } };
const prefixLength = compose.networks.lab.ipam.config[0].subnet.split('/')[1];
const addressOf = (service: string) => Object.values(compose.services[service].networks)[0].ipv4_address;

const nodes = labNodes;
const peers = labPeers;
const clusterAs = labClusterAs;
const selects = peerSelectsNode;

/** The CMD of a compose Dockerfile, with container paths swapped for this test's. */
function containerCommand(dockerfile: string, paths: Record<string, string>): string[] {
  const cmd = JSON.parse(/^CMD\s+(\[.*\])\s*$/m.exec(read(dockerfile))?.[1] ?? '[]') as string[];
  return cmd.map((arg) => paths[arg] ?? arg);
}

/** What each router announces, read from its own configuration. */
const announced: Record<string, string> = {
  bird: String(/route\s+([\d./]+)\s+blackhole/.exec(read('compose/bird/bird.conf'))?.[1]),
  gobgp: String(/global rib add -a ipv4 ([\d./]+)/.exec(read('compose/gobgp/start.sh'))?.[1]),
  frr: String(/^\s*network ([\d./]+)/m.exec(read('compose/frr/bgpd.conf'))?.[1]),
};
// Announced by tortie-1's stand-in besides its pod CIDR: the lab router's filter must drop it.
const strayPrefix = '10.99.0.0/16';

function standInConfig(node: LabNode, address: string, dir: string): string {
  const sessions = peers.filter((p) => selects(p, node)).map((p) => `
protocol bgp peer_${p.metadata.name.replace(/\W/g, '_')} {
  local ${address} as ${clusterAs};
  neighbor ${p.spec.peerIP} as ${p.spec.asNumber};
  connect delay time 1; connect retry time 2; error wait time 1, 5;
  ipv4 { import all; export where proto = "pods"; };
}`).join('\n');
  const stray = node.metadata.name === 'tortie-1' ? `route ${strayPrefix} blackhole;` : '';
  const text = `router id ${address};
protocol device { }
protocol static pods { ipv4; ${node.spec.podCIDRs.map((c) => `route ${c} blackhole;`).join(' ')} ${stray} }
${sessions}
`;
  const file = path.join(dir, `${node.metadata.name}.conf`);
  writeFileSync(file, text);
  return file;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}\n${logTails()}`);
}

let logDir = '';
function logTails(): string {
  return ['bird', 'gobgp', 'frr', ...nodes.map((n) => n.metadata.name)].map((name) => {
    try {
      return `--- ${name}\n${readFileSync(path.join(logDir, `${name}.log`), 'utf8').split('\n').slice(-8).join('\n')}`;
    } catch {
      return `--- ${name}: no log`;
    }
  }).join('\n');
}

const birdRoutes = async (ns: Netns, ctl: string) => (await ns.exec('birdc', ['-s', ctl, 'show', 'route'])).stdout;

describe.skipIf(!runnable)('the compose lab\'s routers with stand-ins for the tortie nodes', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'tortie-compose-peers-'));
  logDir = work;
  const namespaces = new Map<string, Netns>();
  let sw: Switch | undefined;

  beforeAll(async () => {
    sw = await Switch.create(uniqueName('dpsw'));
    for (const service of Object.keys(compose.services)) {
      const ns = await Netns.create(uniqueName('dp'));
      namespaces.set(service, ns);
      await sw.connect(ns, 'eth0', [`${addressOf(service)}/${prefixLength}`]);
    }
    // Each daemon's output goes to a file, quoted when a wait times out.
    const log = (name: string) => {
      const fd = openSync(path.join(work, `${name}.log`), 'w');
      return { stdio: ['ignore', fd, fd] as ['ignore', number, number] };
    };
    // BIRD, the lab router: compose/bird/Dockerfile's CMD.
    namespaces.get('bird')?.spawn(...splitCommand(containerCommand('compose/bird/Dockerfile', {
      '/etc/bird/bird.conf': path.join(repoRoot, 'compose/bird/bird.conf'),
      '/run/bird/bird.ctl': path.join(work, 'bird.ctl'),
    })), log('bird'));
    // GoBGP: its start script, which runs gobgpd and announces the GoBGP network.
    namespaces.get('gobgp')?.spawn('sh', [path.join(repoRoot, 'compose/gobgp/start.sh')], {
      ...log('gobgp'), env: { ...process.env, GOBGPD_CONFIG: path.join(repoRoot, 'compose/gobgp/gobgpd.toml') },
    });
    // FRR's bgpd drops to the frr user: its files must be the frr user's, on a path it can walk.
    chmodSync(work, 0o755);
    const frrDir = path.join(work, 'frr');
    mkdirSync(frrDir);
    copyFileSync(path.join(repoRoot, 'compose/frr/bgpd.conf'), path.join(frrDir, 'bgpd.conf'));
    const frrIds = (await run('id', ['-u', 'frr'])).stdout.trim();
    const frrGid = (await run('id', ['-g', 'frr'])).stdout.trim();
    for (const f of [frrDir, path.join(frrDir, 'bgpd.conf')]) chownSync(f, Number(frrIds), Number(frrGid));
    namespaces.get('frr')?.spawn(...splitCommand(containerCommand('compose/frr/Dockerfile', {
      '/etc/frr/bgpd.conf': path.join(frrDir, 'bgpd.conf'),
      '/var/run/frr': frrDir,
      '/var/run/frr/bgpd.pid': path.join(frrDir, 'bgpd.pid'),
    })), log('frr'));
    for (const node of nodes) {
      const config = standInConfig(node, addressOf(node.metadata.name), work);
      namespaces.get(node.metadata.name)?.spawn('bird', ['-f', '-c', config, '-s', path.join(work, `${node.metadata.name}.ctl`)], log(node.metadata.name));
    }
  });

  afterAll(async () => {
    for (const ns of namespaces.values()) {
      // What the start scripts left behind in our namespaces (GoBGP's announcer), by PID.
      const pids = (await run('ip', ['netns', 'pids', ns.name]).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean).map(Number);
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
    }
    await Promise.all([...namespaces.values()].map((ns) => ns.destroy()));
    await sw?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('the lab router learns every node\'s pod CIDR, puts them in its kernel table, and drops the rest', async () => {
    const bird = namespaces.get('bird') as Netns;
    const podCidrs = nodes.flatMap((n) => n.spec.podCIDRs);
    const routes = await waitFor('pod CIDRs at the lab router', async () => {
      const out = await birdRoutes(bird, path.join(work, 'bird.ctl'));
      return podCidrs.every((c) => out.includes(c)) ? out : undefined;
    });
    expect(routes).not.toContain(strayPrefix);
    const kernel = await waitFor('pod CIDRs in the lab router\'s kernel', async () => {
      const out = (await bird.ip('route', 'show', 'proto', 'bird')).stdout;
      return podCidrs.every((c) => out.includes(c)) ? out : undefined;
    });
    for (const node of nodes) expect(kernel).toContain(`${node.spec.podCIDRs[0]} via ${addressOf(node.metadata.name)}`);
  });

  it('every node hears from exactly the routers its BGPPeers name', async () => {
    for (const node of nodes) {
      const ns = namespaces.get(node.metadata.name) as Netns;
      const routers = Object.keys(announced).filter((r) => peers.some((p) => p.spec.peerIP === addressOf(r) && selects(p, node)));
      const expected = routers.map((r) => announced[r]).sort();
      const ctl = path.join(work, `${node.metadata.name}.ctl`);
      const out = await waitFor(`${expected.join(', ')} at ${node.metadata.name}`, async () => {
        const routes = await birdRoutes(ns, ctl);
        return expected.every((p) => routes.includes(p)) ? routes : undefined;
      });
      const heard = Object.values(announced).filter((p) => out.includes(p)).sort();
      expect(heard, node.metadata.name).toEqual(expected);
    }
  });
});

function splitCommand(argv: string[]): [string, string[]] {
  return [argv[0], argv.slice(1)];
}
