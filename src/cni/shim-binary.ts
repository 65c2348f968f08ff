/**
 * Builds `tortie-cni-shim` (native/tortie-cni-shim.c), the C front end that forwards CNI
 * invocations to the agent (server.ts), with the system `cc`: at `npm ci` (postinstall:
 * scripts/build-native.ts), by `npm run build:cni`, and on demand in tests and the bench.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = new URL('../../', import.meta.url);
export const SHIM_SOURCE = fileURLToPath(new URL('native/tortie-cni-shim.c', root));
export const SHIM_DEFAULT_PATH = fileURLToPath(new URL('build/tortie-cni-shim', root));
/** The name the shim execs from its own directory when the agent does not answer. */
export const SHIM_FALLBACK_NAME = 'tortie-cni-node';

export class ShimBuildError extends Error {
  readonly code = 'TORTIE_CNI_SHIM_BUILD';
}

export function buildShim(out = SHIM_DEFAULT_PATH): string {
  mkdirSync(dirname(out), { recursive: true });
  // Beside the target, then renamed: nobody runs a half-written file.
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', tmp, SHIM_SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(tmp, out);
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new ShimBuildError(`could not build ${out} from ${SHIM_SOURCE} (needs a C compiler, e.g. apt-get install gcc): ${err.stderr?.toString().trim() || err.message}`, { cause: e });
  }
  return out;
}

/** The shim's path, building it first when it is missing or older than its source. */
export function ensureShim(): string {
  const stale = !existsSync(SHIM_DEFAULT_PATH) || (existsSync(SHIM_SOURCE) && statSync(SHIM_SOURCE).mtimeMs > statSync(SHIM_DEFAULT_PATH).mtimeMs);
  return stale ? buildShim() : SHIM_DEFAULT_PATH;
}
