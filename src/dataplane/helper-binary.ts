/**
 * Locates, and if needed builds, `tortie-nl`: the C relay between Node and NETLINK_ROUTE
 * (native/tortie-nl.c). It is a plain C program with no Node headers, built with the system `cc`
 * by `npm ci` (postinstall: scripts/build-native.ts) and again here when missing or older than its
 * source, so a fresh checkout works without a separate step. `TORTIE_NL_HELPER` overrides the path
 * (for images that ship a prebuilt binary and no compiler).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../../', import.meta.url);
export const HELPER_SOURCE = fileURLToPath(new URL('native/tortie-nl.c', root));
export const HELPER_DEFAULT_PATH = fileURLToPath(new URL('build/tortie-nl', root));

export class HelperBuildError extends Error {
  readonly code = 'TORTIE_NL_HELPER_BUILD';
}

export function buildHelper(out = HELPER_DEFAULT_PATH): string {
  mkdirSync(new URL('build/', root), { recursive: true });
  try {
    // Build beside the target and rename: a process starting the old binary meanwhile, or another
    // build racing this one, never sees a half-written file.
    const tmp = `${out}.${process.pid}.tmp`;
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', tmp, HELPER_SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(tmp, out);
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new HelperBuildError(
      `could not build ${out} from ${HELPER_SOURCE} (needs a C compiler, e.g. apt-get install gcc; or set TORTIE_NL_HELPER to a built binary): ${err.stderr?.toString().trim() || err.message}`,
      { cause: e },
    );
  }
  return out;
}

/** The helper's path, building it first when it is missing or stale. */
export function ensureHelper(): string {
  const override = process.env.TORTIE_NL_HELPER;
  if (override) return override;
  const stale = !existsSync(HELPER_DEFAULT_PATH) || (existsSync(HELPER_SOURCE) && statSync(HELPER_SOURCE).mtimeMs > statSync(HELPER_DEFAULT_PATH).mtimeMs);
  return stale ? buildHelper() : HELPER_DEFAULT_PATH;
}
