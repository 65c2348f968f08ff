import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('tortie version', () => {
  it('prints the package version through bin/tortie', () => {
    const out = execFileSync(new URL('../../bin/tortie', import.meta.url).pathname, ['version'], { encoding: 'utf8' });
    expect(out).toMatch(new RegExp(`^tortie ${pkg.version.replaceAll('.', '\\.')} \\(node v24\\.`));
  });

  it('rejects an unknown command with exit code 2', () => {
    let status = 0;
    try {
      execFileSync(new URL('../../bin/tortie', import.meta.url).pathname, ['frobnicate'], { stdio: 'pipe' });
    } catch (e) {
      status = (e as { status: number }).status;
    }
    expect(status).toBe(2);
  });
});
