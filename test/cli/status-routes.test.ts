/**
 * `tortie status` and `tortie routes` end to end through bin/tortie, against an agent process
 * serving in-memory sources (test/agent/fixtures/memory-agent.ts).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopPid } from '../../src/netns/netns.ts';

const tortie = new URL('../../bin/tortie', import.meta.url).pathname;
const fixture = new URL('../agent/fixtures/memory-agent.ts', import.meta.url).pathname;

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(tortie, args, { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
let sock: string;
let agent: ChildProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ta-cli-'));
  sock = join(dir, 'tortie.sock');
  agent = spawn(process.execPath, [fixture, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    agent.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    agent.on('exit', (code) => reject(new Error(`fixture agent exited ${code}`)));
  });
});

afterAll(async () => {
  if (agent?.pid) await stopPid(agent.pid);
  rmSync(dir, { recursive: true, force: true });
});

describe('tortie status', () => {
  it('--json gives node and peers with exactly the documented fields', async () => {
    const r = await cli(['status', '--json', '--control-socket', sock]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.node.name).toBe('node-a');
    expect(out.peers).toHaveLength(3);
    expect(Object.keys(out.peers[0])).toEqual(['address', 'asNumber', 'type', 'state', 'since', 'prefixesReceived', 'prefixesAccepted', 'prefixesAdvertised', 'lastError']);
    expect(out.peers[1]).toMatchObject({ address: '10.0.0.254', port: 1179, asNumber: 65000, type: 'global', state: 'Active', lastError: 'connect ECONNREFUSED 10.0.0.254:1179' });
  });

  it('prints IPv4 and IPv6 sections like calicoctl node status, finding the socket from TORTIE_CONTROL_SOCKET', async () => {
    const r = await cli(['status'], { TORTIE_CONTROL_SOCKET: sock });
    expect(r.code).toBe(0);
    const [v4, v6] = r.stdout.split('IPv6 BGP status');
    expect(v4).toContain('IPv4 BGP status');
    // The fixture agent has no health verdict; the line is absent rather than invented.
    expect(v4).not.toContain('ready:');
    expect(v4).toMatch(/\| 10\.0\.0\.2 +\| 64512 \| node-to-node mesh \| Established \| 2026-11-26 02:00:05 \| 2 received, 2 accepted, 1 advertised \|/);
    expect(v4).toMatch(/\| 10\.0\.0\.254:1179 +\| 65000 \| global +\| Active +\| .* \| connect ECONNREFUSED/);
    expect(v4).not.toContain('fd00::2');
    expect(v6).toMatch(/\| fd00::2 +\| 64512 \| node specific +\| OpenConfirm \|/);
  });

  it('says clearly that the agent is not running, with exit code 1', async () => {
    const r = await cli(['status', '--control-socket', join(dir, 'nobody.sock')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tortie status: no control socket at .*nobody\.sock: the agent is not running.*\[TORTIE_AGENT_UNREACHABLE\]/);
    expect(r.stdout).toBe('');
  });

  it('refuses unknown options with usage and exit code 2', async () => {
    const r = await cli(['status', '--frob']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--frob'");
    expect(r.stderr).toContain('usage: tortie status');
  });
});

describe('tortie routes', () => {
  it('--json lists every path with prefix, nextHop, peer, asPath, best, reason and the kernel routes', async () => {
    const r = await cli(['routes', '--json', '--control-socket', sock]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Array.isArray(out)).toBe(true);
    expect(out).toHaveLength(4);
    expect(out[2]).toEqual({
      prefix: '10.65.1.0/26', nextHop: '10.0.0.254', peer: '10.0.0.254', asPath: '65000', best: false, reason: 'lower LOCAL_PREF than 10.0.0.2',
      kernel: [{ prefix: '10.65.1.0/26', type: 'unicast', gateway: '10.0.0.2', dev: 'eth0', protocol: 116, table: 254, owned: true }],
    });
  });

  it('PREFIX selects one prefix; an address selects the longest match', async () => {
    const exact = JSON.parse((await cli(['routes', 'fd00:65::/122', '--json', '--control-socket', sock])).stdout);
    expect(exact.map((x: { prefix: string }) => x.prefix)).toEqual(['fd00:65::/122']);
    const byAddress = JSON.parse((await cli(['routes', '10.65.0.9', '--json', '--control-socket', sock])).stdout);
    expect(byAddress).toEqual([expect.objectContaining({ prefix: '10.65.0.0/26', peer: null, reason: 'originated by this node' })]);
  });

  it('prints a table and the kernel view per prefix', async () => {
    const r = await cli(['routes', '--control-socket', sock]);
    expect(r.stdout).toMatch(/^PREFIX +NEXT HOP +PEER +AS PATH +BEST +REASON/);
    expect(r.stdout).toMatch(/10\.65\.1\.0\/26 +10\.0\.0\.2 +10\.0\.0\.2 +- +\* +higher LOCAL_PREF/);
    expect(r.stdout).toContain('  blackhole 10.65.0.0/26 proto 116 (tortie)');
    expect(r.stdout).toContain('  fd00:65::/122: not in the kernel');
  });

  it('reports a bad PREFIX as the agent refusing it', async () => {
    const r = await cli(['routes', 'banana', '--control-socket', sock]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/'banana' is neither a prefix.*TORTIE_CONTROL_BAD_PARAMS/);
  });
});
