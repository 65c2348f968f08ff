import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { agentHelp, ConfigError, DEFAULT_CONTROL_SOCKET, formatResolvedConfig, loadAgentConfig, parseDuration, SETTINGS, type ParsedAgentArgs } from '../../src/agent/config.ts';

function load(argv: string[], env: Record<string, string> = {}) {
  const r: ParsedAgentArgs = loadAgentConfig(argv, env);
  if (r.help) throw new Error('unexpected help');
  return r;
}

function problems(argv: string[], env: Record<string, string> = {}) {
  try {
    load(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('agent settings: sources and precedence', () => {
  it('uses the documented defaults with nothing set', () => {
    const { config, origins } = load([]);
    expect(config.nodeName).toBe(hostname().toLowerCase());
    expect(origins.nodeName).toEqual({ kind: 'default', detail: 'the host name' });
    expect(config.datastore).toEqual({ type: 'kubernetes' });
    expect(config.controlSocket).toBe(DEFAULT_CONTROL_SOCKET);
    expect(config.metricsListen).toEqual({ host: '0.0.0.0', port: 9091 });
    expect(config.healthListen).toEqual({ host: '0.0.0.0', port: 9099 });
    expect(config.ipAutodetectionMethod).toEqual({ kind: 'first-found' });
    expect(config.ip6AutodetectionMethod).toEqual({ kind: 'none' });
    expect(config.listenPort).toBeNull();
    expect(config.routeResyncInterval).toBe(90_000);
    expect(config.routeTable).toBe(254);
    expect(config.advertisePodRoutes).toBe(false);
  });

  it('takes TORTIE_NODE_NAME, else NODENAME (Calico), and a flag over both', () => {
    expect(load([], { NODENAME: 'calico-name' }).config.nodeName).toBe('calico-name');
    const both = load([], { NODENAME: 'calico-name', TORTIE_NODE_NAME: 'tortie-name' });
    expect(both.config.nodeName).toBe('tortie-name');
    expect(both.origins.nodeName).toEqual({ kind: 'env', detail: 'TORTIE_NODE_NAME' });
    const flag = load(['--node-name', 'flag-name'], { NODENAME: 'calico-name', TORTIE_NODE_NAME: 'tortie-name' });
    expect(flag.config.nodeName).toBe('flag-name');
    expect(flag.origins.nodeName).toEqual({ kind: 'flag', detail: '--node-name' });
  });

  it('reads every setting from its environment variable', () => {
    const { config } = load([], {
      TORTIE_DATASTORE: 'file:/etc/tortie/cluster.yaml',
      TORTIE_CONTROL_SOCKET: '/run/t/a.sock',
      TORTIE_METRICS_LISTEN: '[::1]:9500',
      TORTIE_HEALTH_LISTEN: 'off',
      TORTIE_LOG_LEVEL: 'debug',
      TORTIE_IP_AUTODETECTION_METHOD: 'interface=eth.*,ens[0-9]+',
      TORTIE_IP6_AUTODETECTION_METHOD: 'cidr=fd00::/64,fd01::/64',
      TORTIE_ADVERTISE_POD_ROUTES: 'yes',
      TORTIE_LISTEN_PORT: '1179',
      TORTIE_ROUTE_PROTOCOL: '200',
      TORTIE_ROUTE_TABLE: '100',
      TORTIE_ROUTE_RESYNC_INTERVAL: '2m',
      TORTIE_ECMP: 'true',
      TORTIE_SHUTDOWN_TIMEOUT: '1500ms',
    });
    expect(config.datastore).toEqual({ type: 'file', path: '/etc/tortie/cluster.yaml' });
    expect(config.controlSocket).toBe('/run/t/a.sock');
    expect(config.metricsListen).toEqual({ host: '::1', port: 9500 });
    expect(config.healthListen).toBeNull();
    expect(config.logLevel).toBe('debug');
    expect(config.ipAutodetectionMethod).toMatchObject({ kind: 'interface' });
    expect(config.ip6AutodetectionMethod).toMatchObject({ kind: 'cidr', cidrs: [{ prefixLength: 64 }, { prefixLength: 64 }] });
    expect(config.advertisePodRoutes).toBe(true);
    expect(config.listenPort).toBe(1179);
    expect(config.routeProtocol).toBe(200);
    expect(config.routeTable).toBe(100);
    expect(config.routeResyncInterval).toBe(120_000);
    expect(config.ecmp).toBe(true);
    expect(config.shutdownTimeout).toBe(1500);
  });

  it('lets --no-FLAG turn off a boolean the environment turned on', () => {
    const { config, origins } = load(['--no-advertise-pod-routes'], { TORTIE_ADVERTISE_POD_ROUTES: 'true' });
    expect(config.advertisePodRoutes).toBe(false);
    expect(origins.advertisePodRoutes.kind).toBe('flag');
  });

  it("accepts Calico's IP_AUTODETECTION_METHOD as a fallback", () => {
    const { config, origins } = load([], { IP_AUTODETECTION_METHOD: 'can-reach=192.0.2.1' });
    expect(config.ipAutodetectionMethod).toEqual({ kind: 'can-reach', destination: '192.0.2.1' });
    expect(origins.ipAutodetectionMethod.detail).toBe('IP_AUTODETECTION_METHOD');
  });

  it('--help is recognised before any validation', () => {
    expect(loadAgentConfig(['--help', '--route-table', 'nonsense'], {})).toEqual({ help: true });
  });
});

describe('agent settings: validation', () => {
  it('reports every bad setting at once, naming flag, variable, value and origin', () => {
    const e = problems(['--metrics-listen', '10.0.0.1'], { TORTIE_ROUTE_TABLE: '255', TORTIE_LOG_LEVEL: 'loud' });
    expect(e.code).toBe('TORTIE_CONFIG_INVALID');
    expect(e.problems.map((p) => [p.flag, p.env, p.value, p.origin])).toEqual([
      ['--route-table', 'TORTIE_ROUTE_TABLE', '255', 'env'],
      ['--metrics-listen', 'TORTIE_METRICS_LISTEN', '10.0.0.1', 'flag'],
      ['--log-level', 'TORTIE_LOG_LEVEL', 'loud', 'env'],
    ]);
    expect(e.message).toContain("--route-table (TORTIE_ROUTE_TABLE) = '255'");
    expect(e.message).toContain("local table");
  });

  it.each([
    ['--node-name', 'Node_A', /Kubernetes Node name/],
    ['--datastore', 'etcd', /kubernetes or file:PATH/],
    ['--datastore', 'file:', /needs a path/],
    ['--metrics-listen', '0.0.0.0:99999', /port/],
    ['--metrics-listen', '::1:9091', /brackets/],
    ['--health-listen', 'localhost:9099', /not an IP address/],
    ['--ip-autodetection-method', 'first-found=eth0', /takes no argument/],
    ['--ip-autodetection-method', 'can-reach=fd00::1', /IPv6 address, but this setting is for IPv4/],
    ['--ip-autodetection-method', 'can-reach=example.com', /host names are not resolved/],
    ['--ip-autodetection-method', 'cidr=10.0.0.0/33', /not a CIDR/],
    ['--ip-autodetection-method', 'interface=(', /bad regular expression/],
    ['--ip-autodetection-method', 'magic', /unknown method 'magic'/],
    ['--ip6-autodetection-method', 'cidr=10.0.0.0/8', /IPv4, but this setting is for IPv6/],
    ['--listen-port', '0', /1 to 65535/],
    ['--route-protocol', '2', /0-4 belong to the kernel/],
    ['--route-resync-interval', '10ms', /from 1s to 24h/],
    ['--route-resync-interval', 'often', /duration/],
    ['--graceful-restart-time', '4096', /0 to 4095/],
    ['--hold-time', '2', /0 or a whole number from 3 to 65535/],
    ['--hold-time', '70000', /0 to 65535/],
    ['--control-socket', '/tmp/' + 'x'.repeat(120), /at most 107 bytes/],
  ])('%s %s is refused with the reason', (flag, value, reason) => {
    const e = problems([flag, value]);
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0].flag).toBe(flag);
    expect(e.problems[0].value).toBe(value);
    expect(e.problems[0].reason).toMatch(reason);
  });

  it('refuses a bad boolean from the environment', () => {
    const e = problems([], { TORTIE_ECMP: 'maybe' });
    expect(e.problems[0]).toMatchObject({ env: 'TORTIE_ECMP', value: 'maybe', origin: 'env' });
  });

  it('refuses unknown flags and stray arguments with a pointer to --help', () => {
    expect(() => load(['--no-such-flag'])).toThrow(/Unknown option '--no-such-flag'.*--help/);
    expect(() => load(['extra'])).toThrow(/Unexpected argument 'extra'/);
    expect(() => load(['--node-name'])).toThrow(/argument missing/);
  });
});

describe('agent settings: documentation', () => {
  it('--help names every flag and every environment variable', () => {
    const help = agentHelp();
    for (const s of SETTINGS) {
      expect(help).toContain(`--${s.boolean ? '[no-]' : ''}${s.flag}`);
      expect(help).toContain(s.env);
      for (const f of s.envFallbacks ?? []) expect(help).toContain(f);
    }
  });

  it('prints the resolved configuration with where each value came from', () => {
    const text = formatResolvedConfig(load(['--route-table', '100'], { NODENAME: 'n1' }));
    expect(text).toMatch(/--route-table +100 +\(flag --route-table\)/);
    expect(text).toMatch(/--node-name +n1 +\(environment NODENAME\)/);
    expect(text).toMatch(/--metrics-listen +0\.0\.0\.0:9091 +\(default\)/);
    expect(text.trim().split('\n')).toHaveLength(SETTINGS.length);
  });

  it('parses durations with units, a bare number meaning seconds', () => {
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1h')).toBe(3_600_000);
  });
});
