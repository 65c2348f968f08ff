import { describe, expect, it } from 'vitest';
import { checkRoot, checkTools, findCommand, MissingToolsError, NotRootError, toolsFor } from '../../src/lab/tools.ts';

describe('lab tools check', () => {
  it('names every missing tool and the apt-get command that installs it', () => {
    const present = new Set(['ip', 'ping', 'vtysh']);
    try {
      checkTools(toolsFor('frr'), (c) => (present.has(c) ? `/usr/bin/${c}` : null));
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(MissingToolsError);
      const err = e as MissingToolsError;
      expect(err.code).toBe('TK_LAB_MISSING_TOOLS');
      expect(err.missing.map((t) => t.command)).toEqual(['/usr/lib/frr/zebra', '/usr/lib/frr/bgpd']);
      expect(err.message).toContain("'zebra', 'bgpd'");
      expect(err.message).toContain('apt-get install -y frr');
      expect(err.message).toContain('scripts/install-deps.sh');
    }
  });

  it('lists each package once and asks for the router chosen only', () => {
    expect(() => checkTools(toolsFor('bird'), () => null)).toThrow('apt-get install -y iproute2 iputils-ping bird2\n');
    expect(toolsFor('gobgp').map((t) => t.debianPackage)).not.toContain('bird2');
    expect(() => checkTools(toolsFor('gobgp'), (c) => c)).not.toThrow();
  });

  it('finds commands on PATH and in the sbin directories', () => {
    // iproute2's ip lives in an sbin directory, which a non-root PATH may lack.
    expect(findCommand('ip', '/nonexistent')).toMatch(/sbin\/ip$/);
    expect(findCommand('sh', '/usr/bin:/bin')).toMatch(/\/sh$/);
    expect(findCommand('no-such-tool-tortie', '/usr/bin')).toBeNull();
  });

  it('asks for root', () => {
    expect(() => checkRoot(1000)).toThrow(NotRootError);
    expect(() => checkRoot(1000)).toThrow(/sudo npm run lab/);
    expect(() => checkRoot(0)).not.toThrow();
  });
});
