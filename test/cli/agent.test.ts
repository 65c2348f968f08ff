import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/agent/config.ts';

const tortie = new URL('../../bin/tortie', import.meta.url).pathname;

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(tortie, args, { env: { ...process.env, ...env } }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('tortie agent (command line)', () => {
  it('--help documents every setting with its environment variable', async () => {
    const r = await cli(['agent', '--help']);
    expect(r.code).toBe(0);
    for (const s of SETTINGS) {
      expect(r.stdout).toContain(`--${s.boolean ? '[no-]' : ''}${s.flag}`);
      expect(r.stdout).toContain(s.env);
    }
  });

  it('refuses a bad configuration before starting anything, with exit code 2 and every problem named', async () => {
    const r = await cli(['agent', '--route-table', '255', '--control-socket', '/nonexistent/x.sock'], { TORTIE_METRICS_LISTEN: 'everywhere', TORTIE_NODE_NAME: 'ta-bad' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--route-table (TORTIE_ROUTE_TABLE) = '255' [from the command line]");
    expect(r.stderr).toContain("--metrics-listen (TORTIE_METRICS_LISTEN) = 'everywhere' [from the environment]");
    expect(r.stdout).toBe('');
  });

  it('lists status, routes and agent in the top-level usage', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}agent +run tortie/m);
    expect(r.stdout).toMatch(/^ {2}status +show this node's BGP sessions/m);
    expect(r.stdout).toMatch(/^ {2}routes +show the Loc-RIB/m);
  });
});
