// The image runs tortie's TypeScript directly from package.json, bin/, src/ and the
// production node_modules (npm ci --omit=dev): nothing the agent loads may need a dev dependency.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './manifest-schemas.ts';

type PackageJson = { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
type PackageLock = { packages: Record<string, { dev?: boolean }> };

const packageJson = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as PackageJson;
const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as PackageLock;

/** The packages npm ci --omit=dev installs at the top of node_modules, from package-lock.json. */
const productionPackages = Object.entries(lock.packages)
  .filter(([key, entry]) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(key) && entry.dev !== true)
  .map(([key]) => key.slice('node_modules/'.length));

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(repoRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') || dir === 'bin')
    .map((f) => path.join(dir, f));
}

/** Bare specifiers a file loads at run time (type-only imports are erased and left out). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(path.join(repoRoot, file), 'utf8');
  const specifiers = [
    ...[...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)].map((m) => m[1]),
    ...[...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]),
  ];
  return specifiers.filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s.split('/')[0]));
}

const packageName = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

describe('the image\'s runtime files', () => {
  const image = mkdtempSync(path.join(tmpdir(), 'tortie-image-'));
  afterAll(() => rmSync(image, { recursive: true, force: true }));

  it('import only production dependencies (the image has no dev dependencies)', () => {
    const production = new Set(Object.keys(packageJson.dependencies ?? {}));
    const offenders = [...sourceFiles('src'), ...sourceFiles('bin')].flatMap((file) => runtimeImports(file)
      .filter((s) => !production.has(packageName(s)))
      .map((s) => `${file} imports ${s}, which is not in dependencies`));
    expect(offenders).toEqual([]);
  });

  it('run `tortie version` from bin/, src/ and the production packages alone', () => {
    const root = path.join(image, 'opt/tortie');
    mkdirSync(path.join(root, 'node_modules'), { recursive: true });
    for (const entry of ['package.json', 'bin', 'src']) cpSync(path.join(repoRoot, entry), path.join(root, entry), { recursive: true });
    for (const name of productionPackages) {
      mkdirSync(path.dirname(path.join(root, 'node_modules', name)), { recursive: true });
      symlinkSync(path.join(repoRoot, 'node_modules', name), path.join(root, 'node_modules', name));
    }
    expect(productionPackages).toContain('@kubernetes/client-node');
    expect(productionPackages).not.toContain('vitest');
    const out = execFileSync(process.execPath, [path.join(root, 'bin/tortie'), 'version'], { cwd: image, encoding: 'utf8' });
    expect(out).toMatch(/^tortie \S+ \(node v24\./);
  });
});
