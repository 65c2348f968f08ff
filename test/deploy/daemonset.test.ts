// The DaemonSet against the agent's command line (issue 7) and the image the Dockerfile builds.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CNI_SOCKET } from '../../src/cni/server.ts';
import { baseManifests, findObject, repoRoot } from './manifest-schemas.ts';

/**
 * The agent's settings: `tortie agent --FLAG` or the environment variable. NODENAME is the
 * node name's fallback, as in Calico.
 */
const agentSettings = {
  nodeName: { flag: '--node-name', env: 'TORTIE_NODE_NAME' },
  datastore: { flag: '--datastore', env: 'TORTIE_DATASTORE' },
  controlSocket: { flag: '--control-socket', env: 'TORTIE_CONTROL_SOCKET' },
  cniSocket: { flag: '--cni-socket', env: 'TORTIE_CNI_SOCKET' },
  metricsListen: { flag: '--metrics-listen', env: 'TORTIE_METRICS_LISTEN' },
  healthListen: { flag: '--health-listen', env: 'TORTIE_HEALTH_LISTEN' },
} as const;
const nodeNameFallbackEnv = 'NODENAME';

/** IPAM types tortie-cni handles itself, with no executable of their own (src/cni/README.md). */
const builtInIpam = new Set(['tortie-ipam']);

type EnvVar = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } };
type VolumeMount = { name: string; mountPath: string; readOnly?: boolean; mountPropagation?: string };
type Port = { name: string; containerPort: number; hostPort?: number; protocol?: string };
type Probe = { httpGet: { host?: string; path: string; port: number | string } };
type Container = {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: Port[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  volumeMounts?: VolumeMount[];
  securityContext?: { runAsUser?: number; privileged?: boolean; capabilities?: { add?: string[]; drop?: string[] } };
};
type Volume = { name: string; hostPath?: { path: string; type?: string }; configMap?: { name: string } };
type PodSpec = {
  hostNetwork?: boolean;
  hostPID?: boolean;
  priorityClassName?: string;
  tolerations?: Record<string, unknown>[];
  initContainers: Container[];
  containers: Container[];
  volumes: Volume[];
};
type DaemonSet = { spec: { updateStrategy: unknown; template: { metadata: { annotations?: Record<string, string> }; spec: PodSpec } } };

const manifests = baseManifests();
const daemonSet = findObject(manifests, 'DaemonSet', 'tortie') as unknown as DaemonSet;
const pod = daemonSet.spec.template.spec;
const agent = pod.containers.find((c) => c.name === 'agent') as Container;
const installCni = pod.initContainers.find((c) => c.name === 'install-cni') as Container;
const configMap = findObject(manifests, 'ConfigMap', 'tortie-cni-config') as unknown as { data: Record<string, string> };

function env(container: Container, name: string): EnvVar | undefined {
  return container.env?.find((e) => e.name === name);
}

function envValue(container: Container, name: string): string {
  const value = env(container, name)?.value;
  if (value === undefined) throw new Error(`${container.name} has no value for ${name}`);
  return value;
}

function listenAddress(value: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(value);
  if (!match) throw new Error(`not ADDR:PORT: ${value}`);
  return { host: match[1], port: Number(match[2]) };
}

/** The hostPath behind the mount of `container` that holds `file` (the longest mount path that contains it). */
function hostPathFor(container: Container, file: string): { mount: VolumeMount; volume: Volume } | undefined {
  const mounts = (container.volumeMounts ?? []).filter((m) => file === m.mountPath || file.startsWith(`${m.mountPath}/`));
  const mount = mounts.sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (mount === undefined) return undefined;
  const volume = pod.volumes.find((v) => v.name === mount.name);
  return volume === undefined ? undefined : { mount, volume };
}

/** The final stage of the Dockerfile: its entrypoint, command and where COPY puts files. */
function dockerImage(): { entrypoint: string[]; cmd: string[]; files: string[]; env: Map<string, string> } {
  const text = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const finalStage = lines.slice(lines.map((l) => /^FROM /i.test(l)).lastIndexOf(true));
  let workdir = '/';
  const image = { entrypoint: [] as string[], cmd: [] as string[], files: [] as string[], env: new Map<string, string>() };
  for (const line of finalStage) {
    const [instruction, ...rest] = line.split(/\s+/);
    const args = rest.filter((a) => !a.startsWith('--'));
    switch (instruction.toUpperCase()) {
      case 'WORKDIR': workdir = path.resolve(workdir, args[0]); break;
      case 'COPY': image.files.push(path.resolve(workdir, args[args.length - 1])); break;
      case 'ENTRYPOINT': image.entrypoint = JSON.parse(rest.join(' ')) as string[]; break;
      case 'CMD': image.cmd = JSON.parse(rest.join(' ')) as string[]; break;
      case 'ENV': for (const kv of rest) { const i = kv.indexOf('='); if (i > 0) image.env.set(kv.slice(0, i), kv.slice(i + 1)); } break;
    }
  }
  return image;
}

describe('the agent container against the agent\'s command line', () => {
  it('runs `tortie agent` with the image\'s own entrypoint', () => {
    const image = dockerImage();
    expect(agent.command).toEqual(['node', '/opt/tortie/bin/tortie', 'agent']);
    expect([...image.entrypoint, ...image.cmd]).toEqual(agent.command);
    expect(image.files).toContain('/opt/tortie/bin');
  });

  it('ships the native pieces where their overrides point (the image has no compiler to build them)', () => {
    const image = dockerImage();
    for (const name of ['TORTIE_NL_HELPER', 'TORTIE_MD5_ADDON']) {
      expect(image.env.get(name), name).toBeDefined();
      expect(image.files, name).toContain(image.env.get(name));
    }
  });

  it('sets only settings the agent knows, the node name from the pod\'s node', () => {
    const known = new Set<string>([...Object.values(agentSettings).map((s) => s.env), nodeNameFallbackEnv]);
    for (const e of agent.env ?? []) expect(known, `${e.name} is not an agent setting`).toContain(e.name);
    const flags = new Set<string>(Object.values(agentSettings).map((s) => s.flag));
    for (const arg of [...(agent.command ?? []), ...(agent.args ?? [])].filter((a) => a.startsWith('--'))) {
      expect(flags).toContain(arg.split('=')[0]);
    }
    const nodeName = env(agent, agentSettings.nodeName.env) ?? env(agent, nodeNameFallbackEnv);
    expect(nodeName?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
    expect(envValue(agent, agentSettings.datastore.env)).toBe('kubernetes');
  });

  it('probes /livez and /readyz where the health listener is', () => {
    const health = listenAddress(envValue(agent, agentSettings.healthListen.env));
    for (const [probe, probePath] of [[agent.livenessProbe, '/livez'], [agent.readinessProbe, '/readyz']] as const) {
      expect(probe?.httpGet.path).toBe(probePath);
      const port = probe?.httpGet.port;
      const portNumber = typeof port === 'number' ? port : agent.ports?.find((p) => p.name === port)?.containerPort;
      expect(portNumber).toBe(health.port);
      // With hostNetwork the kubelet probes from the node's namespace: a loopback listener needs host 127.0.0.1.
      if (health.host !== '0.0.0.0' && health.host !== '::') expect(probe?.httpGet.host).toBe(health.host);
    }
    expect(health.port).toBe(9099);
  });

  it('declares the metrics port the metrics listener uses, on every address', () => {
    const metrics = listenAddress(envValue(agent, agentSettings.metricsListen.env));
    expect(metrics).toEqual({ host: '0.0.0.0', port: 9091 });
    expect(agent.ports?.find((p) => p.name === 'metrics')).toEqual({ name: 'metrics', containerPort: 9091, hostPort: 9091, protocol: 'TCP' });
    expect(daemonSet.spec.template.metadata.annotations?.['prometheus.io/port']).toBe(String(metrics.port));
  });

  it('serves CNI on the socket the front end on the host tries first', () => {
    const socket = envValue(agent, agentSettings.cniSocket.env);
    expect(socket).toBe(DEFAULT_CNI_SOCKET);
    expect(hostPathFor(agent, socket)?.volume.hostPath?.path).toBe('/var/run/tortie');
  });

  it('keeps the control socket in a host directory, where `tortie status` on the node finds it', () => {
    const socket = envValue(agent, agentSettings.controlSocket.env);
    expect(socket).toBe('/var/run/tortie/tortie.sock');
    expect(hostPathFor(agent, socket)?.volume.hostPath?.path).toBe('/var/run/tortie');
  });
});

describe('the DaemonSet', () => {
  it('runs on every node, in the node\'s network namespace, as a critical pod, one node at a time', () => {
    expect(pod.hostNetwork).toBe(true);
    // The CNI server opens CNI_NETNS=/proc/PID/ns/net, a PID in the node's PID namespace.
    expect(pod.hostPID).toBe(true);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(daemonSet.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
  });

  it('runs the agent privileged (its dataplane writes per-interface sysctls) and the installer with no capabilities', () => {
    expect(agent.securityContext?.privileged).toBe(true);
    expect(agent.securityContext?.runAsUser).toBe(0);
    expect(installCni.securityContext?.capabilities).toEqual({ drop: ['ALL'] });
  });

  it('mounts the host directories the agent and the installer use', () => {
    const hostPaths = (c: Container) => Object.fromEntries((c.volumeMounts ?? []).flatMap((m) => {
      const volume = pod.volumes.find((v) => v.name === m.name);
      return volume?.hostPath ? [[volume.hostPath.path, m]] : [];
    }));
    const agentMounts = hostPaths(agent);
    expect(Object.keys(agentMounts).sort()).toEqual(['/run/netns', '/var/lib/tortie', '/var/run/tortie']);
    expect(agentMounts['/run/netns']).toMatchObject({ mountPropagation: 'HostToContainer', readOnly: true });
    expect(Object.keys(hostPaths(installCni)).sort()).toEqual(['/etc/cni/net.d', '/opt/cni/bin']);
  });
});

describe('the install-cni init container', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'tortie-install-cni-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const script = (installCni.args ?? [])[0];

  function runInstaller(hostBin: string, hostNet: string, sources: string): string {
    const vars: Record<string, string> = Object.fromEntries((installCni.env ?? []).map((e) => [e.name, e.value ?? '']));
    // The container's paths, moved under the test's directory.
    const moved = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.startsWith('/host/opt/cni/bin') ? hostBin
      : v.startsWith('/host/etc/cni/net.d') ? hostNet : v.startsWith('/') ? path.join(sources, v) : v]));
    return execFileSync(installCni.command?.[0] ?? '/bin/sh', [...(installCni.command ?? []).slice(1), script], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...moved }, encoding: 'utf8' });
  }

  it('takes its sources from the image and the ConfigMap and writes to the host\'s CNI directories', () => {
    const image = dockerImage();
    expect(image.files).toContain(envValue(installCni, 'TORTIE_CNI_SOURCE'));
    expect(image.files).toContain(envValue(installCni, 'TORTIE_CNI_FALLBACK_SOURCE'));
    expect(image.files).toContain(envValue(installCni, 'PORTMAP_SOURCE'));
    const conflist = envValue(installCni, 'CNI_CONFLIST_SOURCE');
    const fromConfigMap = hostPathFor(installCni, conflist);
    expect(fromConfigMap?.volume.configMap?.name).toBe('tortie-cni-config');
    expect(Object.keys(configMap.data)).toContain(path.relative(fromConfigMap?.mount.mountPath ?? '', conflist));
    expect(hostPathFor(installCni, envValue(installCni, 'CNI_BIN_DIR'))?.volume.hostPath?.path).toBe('/opt/cni/bin');
    expect(hostPathFor(installCni, envValue(installCni, 'CNI_NET_DIR'))?.volume.hostPath?.path).toBe('/etc/cni/net.d');
  });

  it('installs the executable under every plugin name the conflist uses, and the conflist', () => {
    const sources = path.join(work, 'image');
    const hostBin = path.join(work, 'host/opt/cni/bin');
    const hostNet = path.join(work, 'host/etc/cni/net.d');
    for (const dir of [hostBin, hostNet]) mkdirSync(dir, { recursive: true });
    const put = (file: string, content: string) => {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, content);
    };
    put(path.join(sources, envValue(installCni, 'TORTIE_CNI_SOURCE')), 'tortie-cni v1');
    put(path.join(sources, envValue(installCni, 'TORTIE_CNI_FALLBACK_SOURCE')), 'tortie-cni-node v1');
    put(path.join(sources, envValue(installCni, 'PORTMAP_SOURCE')), 'portmap from the image');
    const conflistName = envValue(installCni, 'CNI_CONFLIST_NAME');
    put(path.join(sources, envValue(installCni, 'CNI_CONFLIST_SOURCE')), configMap.data[conflistName]);

    runInstaller(hostBin, hostNet, sources);
    const conflist = JSON.parse(readFileSync(path.join(hostNet, conflistName), 'utf8')) as { cniVersion: string; plugins: { type: string; ipam?: { type: string } }[] };
    expect(conflist.cniVersion).toBe(JSON.parse(configMap.data[conflistName]).cniVersion);
    const pluginTypes = conflist.plugins.flatMap((p) => [p.type, ...(p.ipam && !builtInIpam.has(p.ipam.type) ? [p.ipam.type] : [])]);
    // Plus the front end's fallback, which it runs from its own directory.
    expect(readdirSync(hostBin).sort()).toEqual([...pluginTypes, 'tortie-cni-node'].sort());
    expect(readFileSync(path.join(hostBin, 'tortie-cni-node'), 'utf8')).toBe('tortie-cni-node v1');
    expect(readFileSync(path.join(hostBin, 'tortie-cni'), 'utf8')).toBe('tortie-cni v1');
    expect(statSync(path.join(hostBin, 'tortie-cni')).mode & 0o777).toBe(0o755);
    expect(statSync(path.join(hostNet, conflistName)).mode & 0o777).toBe(0o644);
    expect(readdirSync(hostNet)).toEqual([conflistName]);

    // An upgrade: the node's own portmap stays, tortie-cni is replaced by a new file (renamed
    // into place, so a kubelet running the old one keeps its inode).
    writeFileSync(path.join(hostBin, 'portmap'), 'the node\'s portmap');
    const oldInode = statSync(path.join(hostBin, 'tortie-cni')).ino;
    put(path.join(sources, envValue(installCni, 'TORTIE_CNI_SOURCE')), 'tortie-cni v2');
    runInstaller(hostBin, hostNet, sources);
    expect(readFileSync(path.join(hostBin, 'tortie-cni'), 'utf8')).toBe('tortie-cni v2');
    expect(statSync(path.join(hostBin, 'tortie-cni')).ino).not.toBe(oldInode);
    expect(readFileSync(path.join(hostBin, 'portmap'), 'utf8')).toBe('the node\'s portmap');
    expect(readdirSync(hostBin).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});

// The Dockerfile copies portmap from Debian's containernetworking-plugins: the same binary as
// /usr/lib/cni/portmap on a machine with that package (scripts/install-deps.sh installs it).
const debianPortmap = '/usr/lib/cni/portmap';
if (!existsSync(debianPortmap)) console.warn(`test/deploy/daemonset.test.ts: ${debianPortmap} not found (Debian package containernetworking-plugins), skipping the portmap version check`);

describe('the CNI conflist', () => {
  const conflist = JSON.parse(Object.values(configMap.data)[0]) as { cniVersion: string; name: string; plugins: { type: string; ipam?: { type: string } }[] };

  it('chains tortie-cni with its IPAM and portmap for hostPorts', () => {
    expect(conflist.name).toBe('k8s-pod-network');
    expect(conflist.plugins.map((p) => [p.type, p.ipam?.type])).toEqual([['tortie-cni', 'tortie-ipam'], ['portmap', undefined]]);
  });

  it('keeps the node state and IPAM files in host directories the agent mounts', () => {
    const tortie = conflist.plugins[0] as { nodeStateFile?: string; ipam?: { dataDir?: string } };
    for (const file of [tortie.nodeStateFile, tortie.ipam?.dataDir]) {
      expect(file).toBeDefined();
      expect(hostPathFor(agent, file ?? '')?.volume.hostPath?.path, file).toBe(hostPathFor(agent, file ?? '')?.mount.mountPath);
    }
  });

  // The plugin's own template, once the CNI plugin has landed: the ConfigMap must carry the
  // same settings for tortie-cni (it adds portmap, and may lower cniVersion for it).
  const template = path.join(repoRoot, 'src/cni/10-tortie.conflist');
  it.skipIf(!existsSync(template))('configures tortie-cni as the plugin\'s own template does (src/cni/10-tortie.conflist)', () => {
    const own = JSON.parse(readFileSync(template, 'utf8')) as typeof conflist;
    expect(conflist.plugins.find((p) => p.type === 'tortie-cni')).toEqual(own.plugins.find((p) => p.type === 'tortie-cni'));
  });

  it.skipIf(!existsSync(debianPortmap))('uses a cniVersion that the portmap shipped in the image supports', () => {
    // The runtime gives every plugin of the list the list's cniVersion; a plugin that does not
    // support it fails the pod's ADD.
    const out = execFileSync(debianPortmap, [], { input: JSON.stringify({ cniVersion: conflist.cniVersion }), env: { CNI_COMMAND: 'VERSION' }, encoding: 'utf8' });
    expect((JSON.parse(out) as { supportedVersions: string[] }).supportedVersions).toContain(conflist.cniVersion);
  });
});
