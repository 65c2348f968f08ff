/**
 * The settings of `tortie agent`. One table (`SETTINGS`) drives the flag parser, the environment
 * variables, validation and `--help`, so that they cannot drift apart. Flags win over the
 * environment, the environment over defaults; every value is validated at start and every bad one
 * is reported at once, naming the flag, the variable and the value.
 */
import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { addressFamily } from './addr.ts';
import { AUTODETECT_METHOD_SYNTAX, AutodetectMethodError, formatAutodetectMethod, parseAutodetectMethod, type AutodetectMethod } from './autodetect.ts';
import { AgentError, AgentErrorCode } from './errors.ts';

import { DEFAULT_CONTROL_SOCKET } from './control.ts';
import { DEFAULT_PROTOCOL, DEFAULT_TABLE } from '../dataplane/ownership.ts';

export { DEFAULT_CONTROL_SOCKET };
/**
 * The route protocol number tortie's routes carry and the main table: one definition, the
 * dataplane's ownership rules (src/dataplane/ownership.ts says why 116).
 */
export const DEFAULT_ROUTE_PROTOCOL = DEFAULT_PROTOCOL;
export const MAIN_ROUTE_TABLE = DEFAULT_TABLE;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export type DatastoreSetting = { type: 'kubernetes' } | { type: 'file'; path: string };

export interface ListenAddress {
  host: string;
  port: number;
}

export interface AgentConfig {
  nodeName: string;
  datastore: DatastoreSetting;
  kubeconfig: string | null;
  controlSocket: string;
  /** null: the endpoint is off. */
  metricsListen: ListenAddress | null;
  healthListen: ListenAddress | null;
  logLevel: LogLevel;
  logFormat: LogFormat;
  ipAutodetectionMethod: AutodetectMethod;
  ip6AutodetectionMethod: AutodetectMethod;
  /** Advertise every local pod as a /32 (/128) besides the block aggregates. */
  advertisePodRoutes: boolean;
  /** null: BGPConfiguration's listenPort (default 179). */
  listenPort: number | null;
  /** RFC 4724 restart time we advertise, seconds. */
  gracefulRestartTime: number;
  /** Hold time we propose on sessions that do not set their own (the mesh), seconds. */
  holdTime: number;
  routeProtocol: number;
  routeTable: number;
  /** Milliseconds between full dataplane resyncs. */
  routeResyncInterval: number;
  ecmp: boolean;
  routeTakeover: boolean;
  /** Milliseconds a clean shutdown may take before the process exits anyway. */
  shutdownTimeout: number;
  /** Where the CNI plugin finds this node's pod CIDRs; null: `node.json` beside the control socket. */
  nodeStateFile: string | null;
  /** The CNI server's socket (src/cni/server.ts); null: `cni.sock` beside the control socket; 'off': none. */
  cniSocket: string | null | 'off';
}

export type ConfigKey = keyof AgentConfig;

/** Where a resolved value came from, for `tortie agent --print-config` and the start-up log. */
export interface SettingOrigin {
  kind: 'flag' | 'env' | 'default';
  /** `--node-name`, `NODENAME`, or a note for derived defaults ("hostname"). */
  detail: string;
}

export interface LoadedConfig {
  config: AgentConfig;
  origins: Record<ConfigKey, SettingOrigin>;
}

/** One bad setting. */
export interface ConfigProblem {
  setting: ConfigKey;
  flag: string;
  env: string;
  value: string;
  origin: SettingOrigin['kind'];
  reason: string;
}

export class ConfigError extends AgentError {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], message?: string) {
    super(
      AgentErrorCode.ConfigInvalid,
      message ??
        `invalid configuration:\n${problems
          .map((p) => `  ${p.flag} (${p.env}) = '${p.value}' [from ${p.origin === 'flag' ? 'the command line' : p.origin === 'env' ? 'the environment' : 'the default'}]: ${p.reason}`)
          .join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A value was wrong; `parse` functions throw this with the reason only. */
class BadValue extends Error {}

interface SettingSpec {
  key: ConfigKey;
  flag: string;
  env: string;
  /** Older or Calico names read when `env` is unset, in order. */
  envFallbacks?: string[];
  boolean?: boolean;
  /** Placeholder in --help, e.g. ADDR:PORT. */
  meta?: string;
  group: string;
  help: string;
  /** The default as text (parsed like any other value), or a function for derived defaults. */
  default: string | (() => { text: string; detail: string }) | null;
  parse(text: string): unknown;
}

function parseBool(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(t)) return true;
  if (['false', '0', 'no', 'off'].includes(t)) return false;
  throw new BadValue('expected true or false');
}

function parseIntIn(text: string, min: number, max: number, note = ''): number {
  if (!/^\d+$/.test(text.trim())) throw new BadValue(`expected a whole number from ${min} to ${max}${note}`);
  const n = Number(text.trim());
  if (n < min || n > max) throw new BadValue(`expected a whole number from ${min} to ${max}${note}`);
  return n;
}

/** RFC 4271 4.2: the hold time is zero or at least three seconds. */
function parseHoldTime(text: string): number {
  const n = parseIntIn(text, 0, 65535);
  if (n > 0 && n < 3) throw new BadValue('expected 0 or a whole number from 3 to 65535 (RFC 4271 4.2)');
  return n;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `90s`, `1.5m`, `500ms`, or a bare number of seconds; returns milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new BadValue('expected a duration such as 90s, 2m, 500ms (a bare number means seconds)');
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 's']);
}

function parseDurationIn(text: string, minMs: number, maxMs: number): number {
  const ms = parseDuration(text);
  if (ms < minMs || ms > maxMs) throw new BadValue(`expected a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`);
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** `ADDR:PORT`, `[IPv6]:PORT`, or `off`. */
export function parseListen(text: string): ListenAddress | null {
  const t = text.trim();
  if (t === 'off') return null;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(t);
  if (!m) {
    if (!t.startsWith('[') && (t.match(/:/g)?.length ?? 0) > 1) throw new BadValue('an IPv6 address goes in brackets: [ADDR]:PORT');
    throw new BadValue('expected ADDR:PORT (IPv6 as [ADDR]:PORT) or off');
  }
  const host = m[1] ?? m[2];
  const family = addressFamily(host);
  if (family === null || (m[1] !== undefined && family !== 6) || (m[2] !== undefined && family !== 4)) {
    throw new BadValue(`'${host}' is not an IP address (IPv6 goes in brackets: [::]:PORT)`);
  }
  return { host, port: parseIntIn(m[3], 1, 65535, ' for the port') };
}

export function formatListen(l: ListenAddress | null): string {
  if (!l) return 'off';
  return l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}

// RFC 1123 subdomain, as Kubernetes requires of Node names.
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function parseNodeName(text: string): string {
  if (text.length === 0 || text.length > 253 || !NODE_NAME.test(text)) {
    throw new BadValue('expected a Kubernetes Node name: lower-case letters, digits, - and ., at most 253 characters');
  }
  return text;
}

// sun_path is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH = 107;

function parseSocketPath(text: string): string {
  if (text.trim() === '') throw new BadValue('expected a path');
  const abs = resolve(text);
  if (Buffer.byteLength(abs) > MAX_SOCKET_PATH) throw new BadValue(`a unix socket path is at most ${MAX_SOCKET_PATH} bytes; '${abs}' is ${Buffer.byteLength(abs)}`);
  return abs;
}

function parseDatastore(text: string): DatastoreSetting {
  if (text === 'kubernetes') return { type: 'kubernetes' };
  if (text.startsWith('file:')) {
    const path = text.slice(5);
    if (path === '') throw new BadValue('file: needs a path, as in file:/etc/tortie/cluster.yaml');
    return { type: 'file', path: isAbsolute(path) ? path : resolve(path) };
  }
  throw new BadValue('expected kubernetes or file:PATH');
}

function parseMethod(family: 4 | 6) {
  return (text: string): AutodetectMethod => {
    try {
      return parseAutodetectMethod(text, family);
    } catch (e) {
      if (e instanceof AutodetectMethodError) throw new BadValue(e.message);
      throw e;
    }
  };
}

function parseRouteTable(text: string): number {
  const t = text.trim();
  if (t === 'main') return MAIN_ROUTE_TABLE;
  const n = parseIntIn(t, 1, 0xffffffff, " or 'main'");
  // 255 is the kernel's local table (addresses of this host); never ours to write.
  if (n === 255) throw new BadValue("table 255 is the kernel's local table; choose main (254) or a table of its own");
  return n;
}

function oneOf<T extends string>(values: readonly T[]) {
  return (text: string): T => {
    if (!(values as readonly string[]).includes(text)) throw new BadValue(`expected one of ${values.join(', ')}`);
    return text as T;
  };
}

/** Every setting, in the order `--help` shows them. */
export const SETTINGS: readonly SettingSpec[] = [
  {
    key: 'nodeName', flag: 'node-name', env: 'TORTIE_NODE_NAME', envFallbacks: ['NODENAME'], meta: 'NAME', group: 'Node',
    help: "This node's Kubernetes Node name.",
    default: () => ({ text: hostname().toLowerCase(), detail: 'the host name' }),
    parse: parseNodeName,
  },
  {
    key: 'ipAutodetectionMethod', flag: 'ip-autodetection-method', env: 'TORTIE_IP_AUTODETECTION_METHOD', envFallbacks: ['IP_AUTODETECTION_METHOD'], meta: 'METHOD', group: 'Node',
    help: `How to find the node's IPv4 address when the Node has neither the tortie.dev/bgp-ipv4-address annotation nor an InternalIP: ${AUTODETECT_METHOD_SYNTAX}. first-found skips lo, tor*, cali*, veth*, docker*, kube* and other virtual interfaces; can-reach asks the kernel which source address it would use (no packet is sent).`,
    default: 'first-found', parse: parseMethod(4),
  },
  {
    key: 'ip6AutodetectionMethod', flag: 'ip6-autodetection-method', env: 'TORTIE_IP6_AUTODETECTION_METHOD', envFallbacks: ['IP6_AUTODETECTION_METHOD'], meta: 'METHOD', group: 'Node',
    help: 'The same for IPv6 (annotation tortie.dev/bgp-ipv6-address); none leaves IPv6 off unless the Node has an address for it.',
    default: 'none', parse: parseMethod(6),
  },
  {
    key: 'datastore', flag: 'datastore', env: 'TORTIE_DATASTORE', meta: 'kubernetes|file:PATH', group: 'Datastore',
    help: 'Where the cluster is read from: the Kubernetes API, or a multi-document YAML file of Nodes, Pods, BGPConfiguration and BGPPeers, followed live.',
    default: 'kubernetes', parse: parseDatastore,
  },
  {
    key: 'kubeconfig', flag: 'kubeconfig', env: 'TORTIE_KUBECONFIG', envFallbacks: ['KUBECONFIG'], meta: 'PATH', group: 'Datastore',
    help: 'Kubeconfig for --datastore kubernetes; unset means the in-cluster service account.',
    default: null, parse: (t) => (t.trim() === '' ? null : resolve(t)),
  },
  {
    key: 'listenPort', flag: 'listen-port', env: 'TORTIE_LISTEN_PORT', meta: 'PORT', group: 'BGP',
    help: "TCP port the BGP speaker listens on and dials; unset means BGPConfiguration's listenPort (default 179).",
    default: null, parse: (t) => parseIntIn(t, 1, 65535),
  },
  {
    key: 'advertisePodRoutes', flag: 'advertise-pod-routes', env: 'TORTIE_ADVERTISE_POD_ROUTES', boolean: true, group: 'BGP',
    help: 'Also advertise every local pod as a /32 (/128), not only the block aggregates and pods outside them.',
    default: 'false', parse: parseBool,
  },
  {
    key: 'gracefulRestartTime', flag: 'graceful-restart-time', env: 'TORTIE_GRACEFUL_RESTART_TIME', meta: 'SECONDS', group: 'BGP',
    help: 'Restart time advertised to peers (RFC 4724 section 3: 0 to 4095 s); peers keep our routes this long while we restart.',
    default: '120', parse: (t) => parseIntIn(t, 0, 4095),
  },
  {
    key: 'holdTime', flag: 'hold-time', env: 'TORTIE_HOLD_TIME', meta: 'SECONDS', group: 'BGP',
    help: "Hold time proposed on sessions whose BGPPeer sets none (the node-to-node mesh): 0, or 3 to 65535 s (RFC 4271 4.2); the session uses the smaller of both sides'. A node that stops answering is dropped after it.",
    default: '90', parse: parseHoldTime,
  },
  {
    key: 'routeProtocol', flag: 'route-protocol', env: 'TORTIE_ROUTE_PROTOCOL', meta: 'NUMBER', group: 'Dataplane',
    help: "Protocol number marking tortie's kernel routes; tortie changes only routes carrying it. The default is used by no common daemon.",
    default: String(DEFAULT_ROUTE_PROTOCOL),
    // 0-4 are the kernel's own (unspec, redirect, kernel, boot, static).
    parse: (t) => parseIntIn(t, 5, 255, ' (0-4 belong to the kernel)'),
  },
  {
    key: 'routeTable', flag: 'route-table', env: 'TORTIE_ROUTE_TABLE', meta: 'TABLE', group: 'Dataplane',
    help: 'Kernel routing table for tortie routes: main or a number (not 255, the local table).',
    default: 'main', parse: parseRouteTable,
  },
  {
    key: 'routeResyncInterval', flag: 'route-resync-interval', env: 'TORTIE_ROUTE_RESYNC_INTERVAL', meta: 'DURATION', group: 'Dataplane',
    help: 'Time between full comparisons of the kernel routes with the desired ones (drift is repaired sooner, from the kernel route monitor).',
    default: '90s', parse: (t) => parseDurationIn(t, 1000, 24 * 3_600_000),
  },
  {
    key: 'ecmp', flag: 'ecmp', env: 'TORTIE_ECMP', boolean: true, group: 'Dataplane',
    help: 'Install equal-cost best paths as one multipath route.',
    default: 'false', parse: parseBool,
  },
  {
    key: 'routeTakeover', flag: 'route-takeover', env: 'TORTIE_ROUTE_TAKEOVER', boolean: true, group: 'Dataplane',
    help: 'Replace foreign routes that conflict with desired ones instead of only reporting them.',
    default: 'false', parse: parseBool,
  },
  {
    key: 'controlSocket', flag: 'control-socket', env: 'TORTIE_CONTROL_SOCKET', meta: 'PATH', group: 'Operations',
    help: 'Unix socket (owner-only) through which `tortie status` and `tortie routes` reach the agent.',
    default: DEFAULT_CONTROL_SOCKET, parse: parseSocketPath,
  },
  {
    key: 'nodeStateFile', flag: 'node-state-file', env: 'TORTIE_NODE_STATE_FILE', meta: 'PATH', group: 'Operations',
    help: "File the agent writes with this node's pod CIDRs, for the tortie-cni plugin (its nodeStateFile). Unset: node.json in the control socket's directory (/var/run/tortie/node.json by default, the plugin's default).",
    default: null, parse: (t) => (t.trim() === '' ? null : resolve(t)),
  },
  {
    key: 'cniSocket', flag: 'cni-socket', env: 'TORTIE_CNI_SOCKET', meta: 'PATH', group: 'Operations',
    help: "Unix socket (owner-only) on which the agent runs CNI requests forwarded by the tortie-cni front end (the conflist's agentSocket must match); off disables, and the front end runs the standalone plugin. Unset: cni.sock in the control socket's directory (/var/run/tortie/cni.sock by default).",
    default: null, parse: (t) => (t.trim() === '' ? null : t.trim() === 'off' ? 'off' : parseSocketPath(t)),
  },
  {
    key: 'metricsListen', flag: 'metrics-listen', env: 'TORTIE_METRICS_LISTEN', meta: 'ADDR:PORT', group: 'Operations',
    help: 'Prometheus metrics at http://ADDR:PORT/metrics; off disables.',
    default: '0.0.0.0:9091', parse: parseListen,
  },
  {
    key: 'healthListen', flag: 'health-listen', env: 'TORTIE_HEALTH_LISTEN', meta: 'ADDR:PORT', group: 'Operations',
    help: '/livez and /readyz for the kubelet probes; off disables.',
    default: '0.0.0.0:9099', parse: parseListen,
  },
  {
    key: 'logLevel', flag: 'log-level', env: 'TORTIE_LOG_LEVEL', meta: 'LEVEL', group: 'Operations',
    help: `One of ${LOG_LEVELS.join(', ')}.`,
    default: 'info', parse: oneOf(LOG_LEVELS),
  },
  {
    key: 'logFormat', flag: 'log-format', env: 'TORTIE_LOG_FORMAT', meta: 'FORMAT', group: 'Operations',
    help: 'json (one object per line), pretty, or auto: pretty when stderr is a terminal, else json.',
    default: 'auto', parse: oneOf(LOG_FORMATS),
  },
  {
    key: 'shutdownTimeout', flag: 'shutdown-timeout', env: 'TORTIE_SHUTDOWN_TIMEOUT', meta: 'DURATION', group: 'Operations',
    help: 'Longest a clean shutdown on SIGTERM may take before the process exits anyway (kernel routes always stay).',
    default: '5s', parse: (t) => parseDurationIn(t, 0, 60_000),
  },
];

/** Flags of `tortie agent` that are not settings. */
const COMMAND_FLAGS = {
  help: { type: 'boolean', short: 'h' },
  'print-config': { type: 'boolean' },
} as const;

export type ParsedAgentArgs = { help: true } | ({ help: false; printConfig: boolean } & LoadedConfig);

/**
 * Resolves the configuration from argv and the environment. Throws `ConfigError` listing every
 * bad setting, or a single problem for unknown flags and stray arguments.
 */
export function loadAgentConfig(argv: string[], env: Record<string, string | undefined> = process.env): ParsedAgentArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { ...COMMAND_FLAGS };
  for (const s of SETTINGS) options[s.flag] = { type: s.boolean ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, allowPositionals: false, allowNegative: true, strict: true }));
  } catch (e) {
    const message = (e as Error).message;
    throw new ConfigError([], `tortie agent: ${message}; see tortie agent --help`);
  }
  if (values.help) return { help: true };

  const config: Partial<Record<ConfigKey, unknown>> = {};
  const origins: Partial<Record<ConfigKey, SettingOrigin>> = {};
  const problems: ConfigProblem[] = [];
  for (const s of SETTINGS) {
    let text: string | null = null;
    let origin: SettingOrigin = { kind: 'default', detail: 'default' };
    const flagValue = values[s.flag];
    if (flagValue !== undefined) {
      text = String(flagValue);
      origin = { kind: 'flag', detail: `--${s.flag}` };
    } else {
      for (const name of [s.env, ...(s.envFallbacks ?? [])]) {
        const v = env[name];
        if (v !== undefined && v !== '') {
          text = v;
          origin = { kind: 'env', detail: name };
          break;
        }
      }
    }
    if (text === null) {
      if (s.default === null) {
        config[s.key] = null;
        origins[s.key] = origin;
        continue;
      }
      if (typeof s.default === 'function') {
        const d = s.default();
        text = d.text;
        origin = { kind: 'default', detail: d.detail };
      } else {
        text = s.default;
      }
    }
    try {
      config[s.key] = s.parse(text);
      origins[s.key] = origin;
    } catch (e) {
      if (!(e instanceof BadValue)) throw e;
      problems.push({ setting: s.key, flag: `--${s.flag}`, env: s.env, value: text, origin: origin.kind, reason: e.message });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { help: false, printConfig: Boolean(values['print-config']), config: config as unknown as AgentConfig, origins: origins as Record<ConfigKey, SettingOrigin> };
}

function wrap(text: string, width: number, indent: string): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line.length > 0 && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else {
      line = line ? `${line} ${w}` : w;
    }
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

/** `tortie agent --help`: every setting with its flag, variable, default and meaning. */
export function agentHelp(): string {
  const out: string[] = [
    'usage: tortie agent [options]',
    '',
    "Runs tortie on this node: reads the cluster from the datastore, speaks BGP with the other nodes and",
    "configured peers, and keeps the kernel's pod routes. Every option can also be set by the",
    'environment variable shown; a flag wins over the environment, which wins over the default.',
    '',
  ];
  let group = '';
  for (const s of SETTINGS) {
    if (s.group !== group) {
      group = s.group;
      out.push(`${group}:`);
    }
    const flag = s.boolean ? `--[no-]${s.flag}` : `--${s.flag} ${s.meta ?? 'VALUE'}`;
    const envs = [s.env, ...(s.envFallbacks ?? [])].join(', then ');
    const def = s.default === null ? 'unset' : typeof s.default === 'function' ? s.default().detail : s.default;
    out.push(`  ${flag}`);
    out.push(wrap(`${s.help} Environment: ${envs}. Default: ${def}.`, 96, '      '));
  }
  out.push('Other:');
  out.push('  --print-config');
  out.push('      Print the resolved configuration, with where each value came from, and exit.');
  out.push('  -h, --help');
  out.push('      Show this help.');
  return out.join('\n') + '\n';
}

/** A value as the user would write it back. */
export function formatSetting(key: ConfigKey, config: AgentConfig): string {
  const v = config[key];
  switch (key) {
    case 'datastore': {
      const d = v as DatastoreSetting;
      return d.type === 'file' ? `file:${d.path}` : d.type;
    }
    case 'metricsListen':
    case 'healthListen':
      return formatListen(v as ListenAddress | null);
    case 'ipAutodetectionMethod':
    case 'ip6AutodetectionMethod':
      return formatAutodetectMethod(v as AutodetectMethod);
    case 'routeResyncInterval':
    case 'shutdownTimeout':
      return formatDuration(v as number);
    default:
      return v === null ? 'unset' : String(v);
  }
}

/** One line per setting: `--flag = value  (from ...)`. */
export function formatResolvedConfig(loaded: LoadedConfig): string {
  const rows = SETTINGS.map((s) => {
    const o = loaded.origins[s.key];
    const from = o.kind === 'flag' ? `flag ${o.detail}` : o.kind === 'env' ? `environment ${o.detail}` : o.detail === 'default' ? 'default' : `default: ${o.detail}`;
    return [`--${s.flag}`, formatSetting(s.key, loaded.config), from];
  });
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  (${r[2]})`).join('\n') + '\n';
}

/** The resolved configuration as plain data for the JSON log. */
export function configForLog(loaded: LoadedConfig): Record<string, { value: string; from: string }> {
  const out: Record<string, { value: string; from: string }> = {};
  for (const s of SETTINGS) out[s.key] = { value: formatSetting(s.key, loaded.config), from: loaded.origins[s.key].detail };
  return out;
}
