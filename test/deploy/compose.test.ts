// The compose lab: the file parsed by Debian's docker-compose (no engine needed), and the
// three views of the lab — docker-compose.yml, compose/tortie/cluster.yaml and the peers'
// own configuration files — agreeing on addresses, AS numbers and who peers with whom.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { internalIP, labClusterAs, labNodes, labPeers, peerSelectsNode } from './lab-cluster.ts';
import type { LabNode, LabPeer } from './lab-cluster.ts';
import { repoRoot } from './manifest-schemas.ts';

const has = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'ignore' }).error === undefined;
const dockerCompose = has('docker-compose', ['version']);
const bird = has('bird', ['--version']);
const gobgpd = has('gobgpd', ['--version']);
const bgpd = existsSync('/usr/lib/frr/bgpd');
for (const [present, what] of [[dockerCompose, 'docker-compose (Debian package docker-compose)'], [bird, 'bird (bird2)'], [gobgpd, 'gobgpd'], [bgpd, '/usr/lib/frr/bgpd (frr)']] as const) {
  if (!present) console.warn(`test/deploy/compose.test.ts: ${what} not found, skipping the checks that need it`);
}

const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');

type Service = {
  build?: { context: string; dockerfile?: string };
  user?: string;
  cap_add?: string[];
  environment?: Record<string, string>;
  volumes?: (string | { source: string; target: string })[];
  networks: Record<string, { ipv4_address: string }>;
};
type ComposeConfig = { services: Record<string, Service>; networks: Record<string, { ipam: { config: { subnet: string; gateway?: string }[] } }> };

/** The compose file as docker-compose resolves it, else as written (for the checks that need no resolving). */
function composeConfig(): ComposeConfig {
  if (!dockerCompose) return parse(read('docker-compose.yml'), { merge: true }) as ComposeConfig;
  const out = execFileSync('docker-compose', ['-f', path.join(repoRoot, 'docker-compose.yml'), 'config'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parse(out) as ComposeConfig;
}

const nodes = labNodes;
const peers = labPeers;
const clusterAs = labClusterAs;
const selectedNodes = (peer: LabPeer) => nodes.filter((n) => peerSelectsNode(peer, n)).map((n) => n.metadata.name);

type PeerDaemon = { localAs: number; localAddress: string; neighbors: Map<string, number> };

function birdConfig(text: string): PeerDaemon {
  const local = /local\s+([\d.]+)\s+as\s+(\d+)/.exec(text);
  const neighbors = new Map([...text.matchAll(/neighbor\s+([\d.]+)\s+as\s+(\d+)/g)].map((m) => [m[1], Number(m[2])]));
  return { localAs: Number(local?.[2]), localAddress: String(local?.[1]), neighbors };
}

function frrConfig(text: string): PeerDaemon {
  const localAs = Number(/^router bgp (\d+)/m.exec(text)?.[1]);
  const routerId = String(/bgp router-id ([\d.]+)/.exec(text)?.[1]);
  const groupAs = new Map([...text.matchAll(/neighbor (\S+) remote-as (\d+)/g)].map((m) => [m[1], Number(m[2])]));
  const neighbors = new Map([...text.matchAll(/neighbor ([\d.]+) peer-group (\S+)/g)].map((m) => [m[1], groupAs.get(m[2]) ?? NaN]));
  for (const [name, as] of groupAs) if (/^[\d.]+$/.test(name)) neighbors.set(name, as);
  return { localAs, localAddress: routerId, neighbors };
}

function gobgpConfig(text: string): PeerDaemon {
  const localAs = Number(/^\s*as = (\d+)/m.exec(text)?.[1]);
  const localAddress = String(/local-address-list = \["([\d.]+)"\]/.exec(text)?.[1]);
  const neighbors = new Map([...text.matchAll(/neighbor-address = "([\d.]+)"\s+peer-as = (\d+)/g)].map((m) => [m[1], Number(m[2])]));
  return { localAs, localAddress, neighbors };
}

const peerDaemons: Record<string, { config: string; parse: (text: string) => PeerDaemon; debianPackage: string }> = {
  bird: { config: 'compose/bird/bird.conf', parse: birdConfig, debianPackage: 'bird2' },
  frr: { config: 'compose/frr/bgpd.conf', parse: frrConfig, debianPackage: 'frr' },
  gobgp: { config: 'compose/gobgp/gobgpd.toml', parse: gobgpConfig, debianPackage: 'gobgpd' },
};

describe('docker-compose.yml', () => {
  const config = composeConfig();
  const address = (service: string) => Object.values(config.services[service].networks)[0]?.ipv4_address;

  it.skipIf(!dockerCompose)('is accepted by docker-compose config', () => {
    expect(Object.keys(config.services).sort()).toEqual(['bird', 'frr', 'gobgp', 'tortie-1', 'tortie-2', 'tortie-3']);
  });

  it('gives every container a fixed, distinct address in one documentation-range network', () => {
    expect(Object.keys(config.networks)).toEqual(['lab']);
    expect(config.networks.lab.ipam.config).toEqual([{ subnet: '198.51.100.0/24', gateway: '198.51.100.1' }]);
    const addresses = Object.keys(config.services).map(address);
    for (const a of addresses) expect(a).toMatch(/^198\.51\.100\.(\d+)$/);
    expect(new Set(addresses).size).toBe(addresses.length);
    expect(addresses).not.toContain('198.51.100.1');
  });

  it('builds every image from a Dockerfile in the repository on Debian bookworm or Node 24, with Debian\'s packages', () => {
    for (const [name, service] of Object.entries(config.services)) {
      const context = path.resolve(repoRoot, service.build?.context ?? '');
      const dockerfile = readFileSync(path.join(context, service.build?.dockerfile ?? 'Dockerfile'), 'utf8');
      const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1].replace('${NODE_IMAGE}', /^ARG NODE_IMAGE=(\S+)/m.exec(dockerfile)?.[1] ?? ''));
      for (const base of bases) expect(base, name).toMatch(/^(debian:bookworm-slim|node:24-bookworm-slim)$|^[a-z-]+$/);
      const daemon = peerDaemons[name];
      if (daemon) expect(dockerfile).toMatch(new RegExp(`apt-get install -y --no-install-recommends .*\\b${daemon.debianPackage}\\b`));
    }
  });

  it('runs each tortie node as root with NET_ADMIN on the file datastore, which it mounts', () => {
    for (const node of nodes) {
      const service = config.services[node.metadata.name];
      expect(service, node.metadata.name).toBeDefined();
      expect(service.user).toBe('root');
      expect(service.cap_add).toContain('NET_ADMIN');
      expect(service.environment?.TORTIE_NODE_NAME).toBe(node.metadata.name);
      expect(address(node.metadata.name)).toBe(internalIP(node));
      const datastore = /^file:(.+)$/.exec(service.environment?.TORTIE_DATASTORE ?? '')?.[1] ?? '';
      const mounts = (service.volumes ?? []).map((v) => (typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v));
      const mount = mounts.find((m) => datastore.startsWith(`${m.target}/`));
      expect(mount, `${node.metadata.name} mounts ${datastore}`).toBeDefined();
      expect(path.resolve(repoRoot, mount?.source ?? '', path.relative(mount?.target ?? '', datastore))).toBe(path.join(repoRoot, 'compose/tortie/cluster.yaml'));
    }
  });

  it('peers every BGPPeer of the cluster with a container whose configuration peers back', () => {
    expect(peers.map((p) => p.metadata.name).sort()).toEqual(['bird-router', 'frr', 'gobgp']);
    for (const peer of peers) {
      const service = Object.keys(config.services).find((s) => address(s) === peer.spec.peerIP);
      expect(service, `a container at ${peer.spec.peerIP}`).toBeDefined();
      const daemon = peerDaemons[service ?? ''];
      const parsed = daemon.parse(read(daemon.config));
      expect(parsed.localAs, `${service} AS`).toBe(peer.spec.asNumber);
      expect(parsed.localAddress).toBe(peer.spec.peerIP);
      const expected = selectedNodes(peer).map((name) => [internalIP(nodes.find((n) => n.metadata.name === name) as LabNode) ?? '', clusterAs]);
      expect([...parsed.neighbors].sort(), `${service}'s neighbors`).toEqual(expected.sort());
    }
    expect(selectedNodes(peers.find((p) => p.metadata.name === 'frr') as LabPeer)).toEqual(['tortie-2', 'tortie-3']);
  });
});

describe('the peers\' configuration files', () => {
  it.skipIf(!bird)('BIRD parses compose/bird/bird.conf', () => {
    const result = spawnSync('bird', ['-p', '-c', path.join(repoRoot, 'compose/bird/bird.conf')], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.skipIf(!gobgpd)('GoBGP reads compose/gobgp/gobgpd.toml', () => {
    const result = spawnSync('gobgpd', ['--dry-run', '-f', path.join(repoRoot, 'compose/gobgp/gobgpd.toml')], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/"level":"(fatal|error)"/);
  });

  it.skipIf(!bgpd)('FRR bgpd accepts every line of compose/frr/bgpd.conf', () => {
    // bgpd --dryrun exits 0 even on errors; it names each line it could not take.
    const result = spawnSync('/usr/lib/frr/bgpd', ['--dryrun', '-Z', '-n', '--vty_socket', tmpdir(), '-f', path.join(repoRoot, 'compose/frr/bgpd.conf')], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/No such command|Unknown command|error/i);
  });
});
