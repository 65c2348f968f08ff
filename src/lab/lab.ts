/**
 * The lab: a small cluster's pod network in network namespaces on one machine. `Lab.up` builds it
 * (switch, router, client, nodes with their agents and datastores, pods wired by tortie-cni) and
 * records every step in the state file; `Lab.open` picks up a running lab from that file;
 * `down` removes all of it. The CLI (`npm run lab`) and the e2e tests share this class.
 *
 * Nothing touches the root namespace: veths are made inside the lab's namespaces, addresses and
 * routes are set with `ip -n`.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RoutesResult, StatusResult } from '../agent/control.ts';
import { writeNodeState } from '../cni/node-state.ts';
import { linkPair, Netns, run, stopPid, Switch } from '../netns/netns.ts';
import { clusterYaml } from './cluster.ts';
import type { TopologyView } from './draw.ts';
import { addNetworkList, checkNetworkList, delNetworkList, readConflist, resultAddresses, type Conflist, type Sandbox } from './kubelet.ts';
import { planLab, planNamespaces, CLIENT_V4, CLIENT_V6, UNDERLAY_V4, type LabOptions, type LabPlan, type NodePlan, type PodPlan } from './plan.ts';
import type { FamilyName } from './peers/common.ts';
import { RouterView, startRouter, type RouterHandle } from './router.ts';
import { emptyState, hasState, LabStateError, processMatches, readState, teardown, writeState, type LabProcess, type LabState, type PodRecord, type TeardownReport } from './state.ts';
import { checkRoot, checkTools, toolsFor } from './tools.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TORTIE_BIN = path.join(REPO_ROOT, 'bin/tortie');
export const TORTIE_CNI_BIN = path.join(REPO_ROOT, 'bin/tortie-cni');
export const CONFLIST_TEMPLATE = path.join(REPO_ROOT, 'src/cni/10-tortie.conflist');
/** Where the reference plugins (host-local, ...) live on Debian: second in CNI_PATH. */
export const SYSTEM_CNI_PATH = '/usr/lib/cni';

export interface LabConfig extends Partial<LabOptions> {
  /** Where the state file, datastores, logs and sockets go (`.lab/` in the repo for the CLI). */
  stateDir: string;
  /** Progress lines for a person; silent when unset. */
  log?: (line: string) => void;
}

export interface PingResult {
  from: string;
  to: string;
  address: string;
  ok: boolean;
}

export class Lab {
  readonly plan: LabPlan;
  readonly stateDir: string;
  readonly state: LabState;
  /** The router's handle: present in the process that started it (restart, announce). */
  router: RouterHandle | null = null;
  routerView: RouterView | null;
  private routerLogFd: number | null = null;
  private readonly log: (line: string) => void;

  private constructor(plan: LabPlan, stateDir: string, state: LabState, log: (line: string) => void) {
    this.plan = plan;
    this.stateDir = stateDir;
    this.state = state;
    this.log = log;
    this.routerView = state.router ? new RouterView(state.router, plan) : null;
  }

  /** A running lab, from its state file. */
  static open(stateDir: string, log: (line: string) => void = () => undefined): Lab {
    const state = readState(stateDir);
    return new Lab(planLab(state.options), stateDir, state, log);
  }

  /**
   * Builds the whole lab. Checks root and tools first; refuses when a lab is already recorded in
   * `stateDir` or a namespace of the plan exists. A failure on the way removes what was made.
   */
  static async up(config: LabConfig): Promise<Lab> {
    const { stateDir, log = () => undefined, ...options } = config;
    const plan = planLab(options);
    checkRoot();
    checkTools(toolsFor(plan.options.router));
    if (hasState(stateDir)) throw new LabStateError('TK_LAB_EXISTS', `a lab is already recorded in ${stateDir}: take it down first ('npm run lab -- down')`);
    const taken = [];
    for (const ns of planNamespaces(plan)) if (await Netns.exists(ns)) taken.push(ns);
    if (taken.length) throw new LabStateError('TK_LAB_EXISTS', `namespaces ${taken.join(', ')} exist already: another lab with prefix '${plan.options.prefix}'? Remove them ('ip netns del NAME') or use another prefix`);

    mkdirSync(stateDir, { recursive: true });
    const state = emptyState(plan.options);
    writeState(stateDir, state);
    const lab = new Lab(plan, stateDir, state, log);
    try {
      await lab.build();
    } catch (e) {
      log(`building the lab failed: ${(e as Error).message}; removing what was made`);
      await lab.down().catch((err: Error) => log(`cleanup: ${err.message}`));
      throw e;
    }
    return lab;
  }

  private save(): void {
    writeState(this.stateDir, this.state);
  }

  private async createNetns(name: string): Promise<Netns> {
    const ns = await Netns.create(name);
    this.state.namespaces.push(name);
    this.save();
    return ns;
  }

  nodeDir(node: NodePlan): string {
    return path.join(this.stateDir, node.name);
  }

  datastoreFile(node: NodePlan): string {
    return path.join(this.nodeDir(node), 'cluster.yaml');
  }

  controlSocket(node: NodePlan): string {
    return path.join(this.nodeDir(node), 'tortie.sock');
  }

  agentLog(node: NodePlan): string {
    return path.join(this.nodeDir(node), 'agent.log');
  }

  /** Metrics and health listen on the node's loopback, on ports that say which node: 9101, 9201 for node1. */
  metricsListen(node: NodePlan): string {
    return `127.0.0.1:${9100 + node.index}`;
  }

  healthListen(node: NodePlan): string {
    return `127.0.0.1:${9200 + node.index}`;
  }

  get cniBinDir(): string {
    return path.join(this.stateDir, 'cni', 'bin');
  }

  conflistFile(node: NodePlan): string {
    return path.join(this.nodeDir(node), '10-tortie.conflist');
  }

  node(which: string | number): NodePlan {
    const n = typeof which === 'number' ? this.plan.nodes[which - 1] : this.plan.nodes.find((x) => x.name === which);
    if (!n) throw new Error(`no node ${which} in this lab (nodes: ${this.plan.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  private async build(): Promise<void> {
    const p = this.plan;
    const v6 = p.options.ipv6;
    this.log(`switch ${p.switchNetns} (bridge for ${UNDERLAY_V4}${v6 ? ' and 2001:db8::/64' : ''})`);
    this.state.namespaces.push(p.switchNetns);
    this.save();
    const sw = await Switch.create(p.switchNetns);

    this.log(`router ${p.router.netns} (${p.router.kind}, AS ${p.router.asNumber}) and client ${p.client.netns}`);
    const router = await this.createNetns(p.router.netns);
    await sw.connect(router, 'eth0', [`${p.router.ipv4}/24`, ...(p.router.ipv6 ? [`${p.router.ipv6}/64`] : [])]);
    await router.sysctl('net.ipv4.ip_forward', 1);
    if (v6) await router.sysctl('net.ipv6.conf.all.forwarding', 1);
    const client = await this.createNetns(p.client.netns);
    await linkPair(router, 'eth1', client, 'eth0');
    await router.ip('addr', 'add', `${p.router.clientSideIpv4}/24`, 'dev', 'eth1');
    await client.ip('addr', 'add', `${p.client.ipv4}/24`, 'dev', 'eth0');
    await client.ip('route', 'add', 'default', 'via', p.router.clientSideIpv4);
    if (v6 && p.router.clientSideIpv6 && p.client.ipv6) {
      await router.ip('-6', 'addr', 'add', `${p.router.clientSideIpv6}/64`, 'dev', 'eth1', 'nodad');
      await client.ip('-6', 'addr', 'add', `${p.client.ipv6}/64`, 'dev', 'eth0', 'nodad');
      await client.ip('-6', 'route', 'add', 'default', 'via', p.router.clientSideIpv6);
    }

    // The kubelet's view of the plugin directory: tortie-cni under its type name in CNI_PATH.
    mkdirSync(this.cniBinDir, { recursive: true });
    symlinkSync(TORTIE_CNI_BIN, path.join(this.cniBinDir, 'tortie-cni'));
    const template = readConflist(CONFLIST_TEMPLATE);

    for (const n of p.nodes) {
      this.log(`node ${n.name} ${n.ipv4}${n.ipv6 ? ` ${n.ipv6}` : ''}, pod CIDRs ${n.podCIDRs.join(' ')}`);
      const ns = await this.createNetns(n.netns);
      await sw.connect(ns, n.ifname, [`${n.ipv4}/24`, ...(n.ipv6 ? [`${n.ipv6}/64`] : [])]);
      await ns.sysctl('net.ipv4.ip_forward', 1);
      // The node's uplink is the router: the client's replies go there, and proxy ARP on the pod
      // veths answers only for what the node can route.
      await ns.ip('route', 'add', 'default', 'via', p.router.ipv4);
      if (n.ipv6 && p.router.ipv6) {
        await ns.sysctl('net.ipv6.conf.all.forwarding', 1);
        await ns.ip('-6', 'route', 'add', 'default', 'via', p.router.ipv6);
      }
      mkdirSync(this.nodeDir(n), { recursive: true });
      // The node state the agent will write once wired; the lab writes it from the same Node.
      writeNodeState(path.join(this.nodeDir(n), 'node.json'), { nodeName: n.name, podCIDRs: n.podCIDRs });
      const conflist: Conflist = {
        ...template,
        plugins: template.plugins.map((pl) =>
          pl.type === 'tortie-cni'
            ? { ...pl, nodeStateFile: path.join(this.nodeDir(n), 'node.json'), ipam: { ...(pl.ipam as object), dataDir: path.join(this.nodeDir(n), 'ipam') } }
            : pl,
        ),
      };
      writeFileSync(this.conflistFile(n), JSON.stringify(conflist, null, 2) + '\n');
    }
    this.writeDatastores();

    this.log(`starting ${p.router.kind} in ${p.router.netns}, peered with ${p.nodes.length} node(s)`);
    // Daemons that stay in the foreground (gobgpd) must outlive this process: their output goes
    // to router.log, kept open for restarts.
    this.routerLogFd = openSync(path.join(this.stateDir, 'router.log'), 'a');
    this.router = await startRouter(p, await Netns.attach(router.name, { outlive: { outputFd: this.routerLogFd } }));
    this.state.router = this.router.state;
    this.state.dirs.push(this.router.state.dir);
    this.state.processes.push(...this.router.processes());
    this.save();
    this.routerView = this.router.view;

    for (const n of p.nodes) await this.startAgent(n);
    for (const n of p.nodes) for (const pod of n.pods) await this.addPod(n, pod);
  }

  /** Every node's datastore file, from the plan and the pods wired so far (written atomically). */
  private writeDatastores(): void {
    const text = clusterYaml(this.plan, this.state.pods);
    for (const n of this.plan.nodes) {
      const file = this.datastoreFile(n);
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, file);
    }
  }

  // ---- router --------------------------------------------------------------------------------

  private routerHandle(): RouterHandle {
    if (!this.router) throw new Error('the router can be restarted or told to announce only from the process that started the lab');
    return this.router;
  }

  /** Stops and starts the router's daemon(s) with the same configuration; records the new PIDs. */
  async restartRouter(): Promise<void> {
    const r = this.routerHandle();
    try {
      await r.restart();
    } finally {
      const roles = new Set(r.processes().map((p) => p.role));
      this.state.processes = [...this.state.processes.filter((p) => !roles.has(p.role)), ...r.processes()];
      this.save();
    }
  }

  /** The router announces these prefixes to every node (replacing its previous announcements). */
  announceFromRouter(prefixes: string[]): Promise<void> {
    return this.routerHandle().announce(prefixes);
  }

  // ---- agents --------------------------------------------------------------------------------

  agentProcess(node: NodePlan): LabProcess | undefined {
    return this.state.processes.find((p) => p.role === `agent ${node.name}`);
  }

  agentRunning(node: NodePlan): boolean {
    const p = this.agentProcess(node);
    return !!p && processMatches(p.pid, p.marker);
  }

  /** Starts `tortie agent` in the node's namespace; it outlives this process, logging to agent.log. */
  async startAgent(node: NodePlan): Promise<number> {
    if (this.agentRunning(node)) throw new Error(`the agent of ${node.name} runs already (pid ${this.agentProcess(node)!.pid})`);
    const fd = openSync(this.agentLog(node), 'a');
    try {
      const ns = await Netns.attach(node.netns, { outlive: { outputFd: fd } });
      const args = [
        TORTIE_BIN,
        'agent',
        '--node-name',
        node.name,
        '--datastore',
        `file:${this.datastoreFile(node)}`,
        '--control-socket',
        this.controlSocket(node),
        '--metrics-listen',
        this.metricsListen(node),
        '--health-listen',
        this.healthListen(node),
        '--log-format',
        'json',
        // The mesh uses the lab's hold time too (BGPPeers set theirs), so that a failed node
        // shows in seconds on every peer, not only on the router.
        '--hold-time',
        String(this.plan.options.holdTime),
        ...(node.ipv6 ? ['--ip6-autodetection-method', `interface=${node.ifname}`] : []),
        ...(this.plan.options.agentArgs ?? []),
      ];
      const child = ns.spawn(process.execPath, args);
      const pid = child.pid;
      if (!pid) throw new Error(`could not start the agent of ${node.name}`);
      this.state.processes = this.state.processes.filter((p) => p.role !== `agent ${node.name}`);
      this.state.processes.push({ role: `agent ${node.name}`, pid, netns: node.netns, marker: this.controlSocket(node) });
      this.save();
      return pid;
    } finally {
      closeSync(fd);
    }
  }

  /** Stops the agent: SIGTERM (a clean, graceful-restart-aware shutdown) or SIGKILL (a crash). */
  async stopAgent(node: NodePlan, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const p = this.agentProcess(node);
    if (!p || !processMatches(p.pid, p.marker)) return;
    if (signal === 'SIGKILL') {
      process.kill(p.pid, 'SIGKILL');
      while (processMatches(p.pid, p.marker)) await new Promise((r) => setTimeout(r, 20));
    } else {
      process.kill(p.pid, 'SIGCONT'); // a paused agent cannot act on SIGTERM
      await stopPid(p.pid, 10_000);
    }
  }

  killAgent(node: NodePlan): Promise<void> {
    return this.stopAgent(node, 'SIGKILL');
  }

  async restartAgent(node: NodePlan): Promise<number> {
    await this.stopAgent(node, 'SIGTERM');
    return this.startAgent(node);
  }

  /** `tortie status --json` of a node, as a person would run it. */
  async agentStatus(node: NodePlan): Promise<StatusResult> {
    const { stdout } = await run(process.execPath, [TORTIE_BIN, 'status', '--json', '--control-socket', this.controlSocket(node)], { timeoutMs: 10_000 });
    return JSON.parse(stdout) as StatusResult;
  }

  /** `tortie routes --json` of a node: its Loc-RIB, each path with the kernel's routes for it. */
  async agentRoutes(node: NodePlan, prefix?: string): Promise<RoutesResult['routes']> {
    const { stdout } = await run(process.execPath, [TORTIE_BIN, 'routes', ...(prefix ? [prefix] : []), '--json', '--control-socket', this.controlSocket(node)], { timeoutMs: 10_000 });
    return JSON.parse(stdout) as RoutesResult['routes'];
  }

  /**
   * Freezes the agent (SIGSTOP): its sockets stay open but it says nothing, as a hung node would;
   * its peers notice only when their hold timers run out.
   */
  pauseAgent(node: NodePlan): void {
    const p = this.agentProcess(node);
    if (!p || !processMatches(p.pid, p.marker)) throw new Error(`the agent of ${node.name} is not running`);
    process.kill(p.pid, 'SIGSTOP');
  }

  resumeAgent(node: NodePlan): void {
    const p = this.agentProcess(node);
    if (p && processMatches(p.pid, p.marker)) process.kill(p.pid, 'SIGCONT');
  }

  /** `tortie status` of a node in its text form. */
  async agentStatusText(node: NodePlan): Promise<string> {
    const r = await run(process.execPath, [TORTIE_BIN, 'status', '--control-socket', this.controlSocket(node)], { timeoutMs: 10_000 }).catch((e: Error) => ({ stdout: `(tortie status failed: ${e.message})\n` }));
    return r.stdout;
  }

  /** Waits until every agent answers on its control socket. */
  async waitForAgents(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const n of this.plan.nodes) {
      for (;;) {
        try {
          await this.agentStatus(n);
          break;
        } catch (e) {
          if (!this.agentRunning(n)) throw new Error(`the agent of ${n.name} exited; its log: ${this.agentLog(n)}\n${tail(this.agentLog(n))}`, { cause: e });
          if (Date.now() > deadline) throw new Error(`the agent of ${n.name} did not answer on ${this.controlSocket(n)} within ${timeoutMs} ms`, { cause: e });
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
  }

  // ---- pods ----------------------------------------------------------------------------------

  pods(node?: NodePlan): PodRecord[] {
    return this.state.pods.filter((p) => !node || p.nodeName === node.name);
  }

  private sandbox(pod: { name: string; namespace: string; netns: string; containerId: string }): Sandbox {
    return { containerId: pod.containerId, netnsPath: `/var/run/netns/${pod.netns}`, ifname: 'eth0', podNamespace: pod.namespace, podName: pod.name };
  }

  private cniPath(): string {
    return `${this.cniBinDir}:${SYSTEM_CNI_PATH}`;
  }

  /**
   * Creates a pod as the kubelet would: its sandbox namespace, tortie-cni ADD run in the node's
   * namespace, then the Pod with its addresses written to every node's datastore.
   */
  async addPod(node: NodePlan, pod?: PodPlan): Promise<PodRecord> {
    const plan = pod ?? this.nextPodPlan(node);
    if (this.state.pods.some((p) => p.name === plan.name && p.namespace === plan.namespace)) throw new Error(`pod ${plan.namespace}/${plan.name} exists already`);
    await this.createNetns(plan.netns);
    const list = readConflist(this.conflistFile(node));
    const result = await addNetworkList(node.netns, this.cniPath(), list, this.sandbox(plan));
    const record: PodRecord = { name: plan.name, namespace: plan.namespace, nodeName: node.name, ips: resultAddresses(result), netns: plan.netns, containerId: plan.containerId, result };
    this.state.pods.push(record);
    this.save();
    this.writeDatastores();
    this.log(`pod ${record.name} on ${node.name}: ${record.ips.join(' ')}`);
    return record;
  }

  private nextPodPlan(node: NodePlan): PodPlan {
    const used = new Set(this.state.pods.map((p) => p.name));
    for (let k = 0; k < 26 * 26; k++) {
      const suffix = k < 26 ? String.fromCharCode(97 + k) : `${String.fromCharCode(97 + Math.floor(k / 26) - 1)}${String.fromCharCode(97 + (k % 26))}`;
      const name = `pod-${node.index}-${suffix}`;
      if (!used.has(name) && !this.state.namespaces.includes(`${node.name}-pod-${suffix}`)) {
        return { name, namespace: 'default', netns: `${node.name}-pod-${suffix}`, containerId: `lab${node.index}${suffix}${'0'.repeat(8)}` };
      }
    }
    throw new Error(`no free pod name on ${node.name}`);
  }

  /** tortie-cni CHECK with the cached result, as the runtime does periodically. */
  async checkPod(pod: PodRecord): Promise<void> {
    await checkNetworkList(this.node(pod.nodeName).netns, this.cniPath(), readConflist(this.conflistFile(this.node(pod.nodeName))), this.sandbox(pod), pod.result);
  }

  /** Deletes a pod: the Pod leaves the datastores, tortie-cni DEL, the sandbox goes. */
  async deletePod(pod: PodRecord): Promise<void> {
    const node = this.node(pod.nodeName);
    this.state.pods = this.state.pods.filter((p) => !(p.name === pod.name && p.namespace === pod.namespace));
    this.save();
    this.writeDatastores();
    await delNetworkList(node.netns, this.cniPath(), readConflist(this.conflistFile(node)), this.sandbox(pod), pod.result);
    await run('ip', ['netns', 'del', pod.netns]);
    this.state.namespaces = this.state.namespaces.filter((n) => n !== pod.netns);
    this.save();
  }

  // ---- proving the network -------------------------------------------------------------------

  private async podNetns(pod: PodRecord): Promise<Netns> {
    return Netns.attach(pod.netns);
  }

  /**
   * Every pod pings every other pod's addresses (both families when the lab has IPv6). Runs a few
   * pings at a time; `only` restricts to pairs matching it (retrying the failures).
   */
  async pingMatrix(opts: { timeoutS?: number; concurrency?: number; only?: (from: PodRecord, to: PodRecord, address: string) => boolean } = {}): Promise<PingResult[]> {
    const pairs: Array<{ from: PodRecord; to: PodRecord; address: string }> = [];
    for (const from of this.state.pods) for (const to of this.state.pods) if (from !== to) for (const address of to.ips) if (!opts.only || opts.only(from, to, address)) pairs.push({ from, to, address });
    const results: PingResult[] = new Array(pairs.length);
    let next = 0;
    const worker = async () => {
      while (next < pairs.length) {
        const i = next++;
        const { from, to, address } = pairs[i];
        const ns = await this.podNetns(from);
        results[i] = { from: from.name, to: to.name, address, ok: await ns.ping(address, { count: 1, timeoutS: opts.timeoutS ?? 2 }) };
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 6, pairs.length) }, worker));
    return results;
  }

  /**
   * The ping matrix until every pair answers or the time is up, retrying only the pairs that
   * failed; returns the last result of every pair.
   */
  async pingMatrixUntilFull(timeoutMs: number): Promise<PingResult[]> {
    const deadline = Date.now() + timeoutMs;
    const last = new Map<string, PingResult>();
    const key = (r: { from: string; to: string; address: string }) => `${r.from}>${r.address}`;
    for (;;) {
      const failing = new Set([...last.values()].filter((r) => !r.ok).map(key));
      const round = await this.pingMatrix(last.size === 0 ? {} : { only: (f, _t, a) => failing.has(`${f.name}>${a}`) });
      for (const r of round) last.set(key(r), r);
      if ([...last.values()].every((r) => r.ok) || Date.now() > deadline) return [...last.values()];
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** The client, outside the cluster, pings a pod through the router. */
  async clientPing(address: string, timeoutS = 2): Promise<boolean> {
    const client = await Netns.attach(this.plan.client.netns);
    return client.ping(address, { count: 1, timeoutS });
  }

  /** Pings from a node's own namespace (the host side of its pods). */
  async nodePing(node: NodePlan, address: string, timeoutS = 2): Promise<boolean> {
    const ns = await Netns.attach(node.netns);
    return ns.ping(address, { count: 1, timeoutS });
  }

  /** Waits until the router has every node's session(s) Established, or the time is up. */
  async waitForRouterSessions(timeoutMs: number): Promise<boolean> {
    if (!this.routerView) return false;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sessions = await this.routerView.sessions().catch(() => []);
      if (sessions.length > 0 && sessions.every((s) => s.state === 'Established')) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /**
   * Waits until the router's table holds every node's pod CIDRs, each via that node's address
   * (per family), or the time is up. Sessions Established is not enough: the UPDATEs follow, and
   * FRR's and GoBGP's routes are copied into the router's kernel only from what is there.
   */
  async waitForRouterRoutes(timeoutMs: number): Promise<boolean> {
    const view = this.routerView;
    if (!view) return false;
    const deadline = Date.now() + timeoutMs;
    const families: FamilyName[] = this.plan.options.ipv6 ? ['ipv4', 'ipv6'] : ['ipv4'];
    for (;;) {
      let complete = true;
      for (const fam of families) {
        const routes = await view.routes(fam).catch(() => []);
        for (const n of this.plan.nodes) {
          const nextHop = fam === 'ipv6' ? n.ipv6 : n.ipv4;
          const blocks = n.podCIDRs.filter((c) => c.includes(':') === (fam === 'ipv6'));
          if (!blocks.every((b) => routes.some((r) => r.prefix === b && r.nextHop === nextHop))) complete = false;
        }
      }
      if (complete) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /**
   * Waits until every agent has all its peers Established (the other nodes over the mesh and the
   * router, per family) and the router sees every node Established.
   */
  async waitForSessions(timeoutMs = 90_000): Promise<void> {
    const perFamily = this.plan.options.ipv6 ? 2 : 1;
    const expected = this.plan.nodes.length * perFamily; // the other nodes plus the router
    const deadline = Date.now() + timeoutMs;
    for (const n of this.plan.nodes) {
      let last: string;
      for (;;) {
        try {
          const s = await this.agentStatus(n);
          if (s.peers.length >= expected && s.peers.every((p) => p.state === 'Established')) break;
          last = s.peers.map((p) => `${p.address} ${p.state}`).join(', ') || 'no peers';
        } catch (e) {
          last = (e as Error).message;
        }
        if (Date.now() > deadline) throw new Error(`${n.name}: not every session Established within ${timeoutMs} ms (${last})`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    if (!(await this.waitForRouterSessions(Math.max(1000, deadline - Date.now())))) throw new Error(`the router did not see every node Established within ${timeoutMs} ms`);
  }

  /** A node's kernel routes (`ip route show`), one per line, for either family. */
  async nodeRoutes(node: NodePlan, family: 4 | 6 = 4): Promise<string[]> {
    const ns = await Netns.attach(node.netns);
    const { stdout } = await ns.ip(family === 6 ? '-6' : '-4', 'route', 'show');
    return stdout.split('\n').filter(Boolean);
  }

  // ---- showing it ----------------------------------------------------------------------------

  /** What the drawing shows, read from the agents and the router now. */
  async view(): Promise<TopologyView> {
    const p = this.plan;
    const labelOf = new Map<string, string>();
    for (const n of p.nodes) {
      labelOf.set(n.ipv4, n.name);
      if (n.ipv6) labelOf.set(n.ipv6, n.name);
    }
    labelOf.set(p.router.ipv4, 'router');
    if (p.router.ipv6) labelOf.set(p.router.ipv6, 'router');
    const routerSessions = this.routerView ? await this.routerView.sessions().catch(() => []) : [];
    const nodes = await Promise.all(
      p.nodes.map(async (n) => {
        let agent = this.agentRunning(n) ? 'running' : 'stopped';
        let sessions: TopologyView['nodes'][number]['sessions'] = [];
        let asNumber = p.clusterAs;
        if (agent === 'running') {
          try {
            const s = await this.agentStatus(n);
            asNumber = s.node.asNumber ?? asNumber;
            sessions = s.peers.map((peer) => ({ label: labelOf.get(peer.address) ?? 'peer', address: peer.address, state: peer.state }));
            if (s.readiness && !s.readiness.ok) agent = 'running, not ready';
          } catch (e) {
            agent = `running, status unreadable (${(e as Error).message.split('\n')[0].slice(0, 60)})`;
          }
        }
        return {
          name: n.name,
          addresses: [n.ipv4, ...(n.ipv6 ? [n.ipv6] : [])],
          asNumber,
          podCIDRs: n.podCIDRs,
          agent,
          sessions,
          pods: this.pods(n).map((pod) => ({ name: pod.name, ips: pod.ips })),
        };
      }),
    );
    return {
      client: { name: p.client.netns, addresses: [p.client.ipv4, ...(p.client.ipv6 ? [p.client.ipv6] : [])], subnet: [CLIENT_V4, ...(p.client.ipv6 ? [CLIENT_V6] : [])].join(' ') },
      router: {
        name: p.router.netns,
        kind: p.router.kind,
        asNumber: p.router.asNumber,
        addresses: [p.router.ipv4, ...(p.router.ipv6 ? [p.router.ipv6] : [])],
        sessions: routerSessions.map((s) => ({ label: labelOf.get(s.peer) ?? 'peer', address: s.peer, state: s.state })),
      },
      switch: { name: p.switchNetns, subnet: [UNDERLAY_V4, ...(p.options.ipv6 ? ['2001:db8::/64'] : [])].join(' ') },
      nodes,
    };
  }

  // ---- down ----------------------------------------------------------------------------------

  /** Removes everything the state file records (processes by PID, namespaces, directories). */
  async down(): Promise<TeardownReport> {
    const report = await teardown(this.stateDir, this.state);
    this.router = null;
    if (this.routerLogFd !== null) closeSync(this.routerLogFd);
    this.routerLogFd = null;
    return report;
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
