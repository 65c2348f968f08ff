import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/lab/main.ts';

// The command line's refusals, before anything is built (no root needed for these).
describe('npm run lab: bad input', () => {
  let stderr = '';
  let stdout = '';
  beforeEach(() => {
    stderr = '';
    stdout = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  });
  afterEach(() => vi.restoreAllMocks());

  // Never created: every case fails before anything is written.
  let cases = 0;
  const stateDir = () => path.join(tmpdir(), `tortie-lab-cli-${process.pid}-${++cases}`);

  it('names the option that is wrong, with exit 2', async () => {
    expect(await main(['up', '--nodes', '0', '--state-dir', stateDir()])).toBe(2);
    expect(stderr).toContain('--nodes: must be a whole number from 1 to 50, not 0');
    expect(await main(['up', '--router', 'quagga', '--state-dir', stateDir()])).toBe(2);
    expect(stderr).toContain("--router: must be one of bird, frr, gobgp, not 'quagga'");
    expect(await main(['up', '--nodes', 'three', '--state-dir', stateDir()])).toBe(2);
    expect(stderr).toContain("--nodes: must be a whole number, not 'three'");
    expect(await main(['up', '--colour'])).toBe(2);
    expect(stderr).toMatch(/Unknown option '--colour'/);
  });

  it('says there is no lab to take down or show', async () => {
    const dir = stateDir();
    expect(await main(['down', '--state-dir', dir])).toBe(2);
    expect(stderr).toContain(`no lab here: ${dir}/state.json does not exist`);
    expect(await main(['status', '--state-dir', dir])).toBe(2);
  });

  it('refuses an unknown command and prints usage on --help', async () => {
    expect(await main(['sideways'])).toBe(2);
    expect(stderr).toContain("unknown command 'sideways'");
    expect(await main(['--help'])).toBe(0);
    expect(stdout).toContain('usage: npm run lab -- [up|status|down]');
  });
});
