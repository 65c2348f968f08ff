/**
 * npm run build:cni: builds the node-side tortie-cni, one executable that needs nothing on the
 * host but iproute2. The TypeScript sources are bundled into a single CommonJS file (esbuild),
 * which becomes a Node single-executable application: a preparation blob with V8's code cache
 * (so the plugin's functions need not be compiled on every one of the kubelet's many short runs),
 * injected into a copy of this Node binary (postject).
 *
 *   dist/cni/tortie-cni        the executable, for /opt/cni/bin
 *   dist/cni/tortie-cni.cjs    the bundle alone (node dist/cni/tortie-cni.cjs), for comparison
 *
 * Options: --bundle-only skips the executable.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// postject ships no type declarations; this is the one function we use.
const { inject } = createRequire(import.meta.url)('postject') as {
  inject(file: string, resource: string, data: Buffer, options: { sentinelFuse: string }): Promise<void>;
};

// The fuse every Node binary since 18.16 carries; postject flips it to say a blob is present.
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/cni`;

export async function buildCni(opts: { bundleOnly?: boolean } = {}): Promise<{ bundle: string; executable?: string }> {
  mkdirSync(out, { recursive: true });
  const bundle = `${out}/tortie-cni.cjs`;
  await build({
    entryPoints: [`${root}src/cni/entry.ts`],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    minify: true,
    legalComments: 'none',
    outfile: bundle,
    logLevel: 'warning',
  });
  if (opts.bundleOnly) return { bundle };

  const blob = `${out}/tortie-cni.blob`;
  const seaConfig = `${out}/sea-config.json`;
  const sea = {
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    // No V8 worker threads: a run lasts milliseconds, and on a busy node starting and syncing
    // threads costs more than the background GC and compilation they would do.
    execArgv: ['--v8-pool-size=0'],
    // The plugin's behaviour must not depend on NODE_OPTIONS in the runtime's environment.
    execArgvExtension: 'none',
  };
  writeFileSync(seaConfig, JSON.stringify(sea, null, 2));
  execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: ['ignore', 'ignore', 'inherit'] });

  const executable = `${out}/tortie-cni`;
  rmSync(executable, { force: true });
  copyFileSync(process.execPath, executable);
  chmodSync(executable, 0o755);
  await inject(executable, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
  rmSync(blob);
  return { bundle, executable };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await buildCni({ bundleOnly: process.argv.includes('--bundle-only') });
  process.stdout.write(`${Object.values(result).join('\n')}\n`);
}
