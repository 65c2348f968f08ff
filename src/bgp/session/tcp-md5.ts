/**
 * BGP session passwords: TCP MD5 signatures (RFC 2385), which Node.js sockets cannot ask for. A
 * small Node-API addon (native/tortie-md5.c) makes the two calls: a bare TCP socket we can set the
 * key on before Node connects it (so the SYN is signed), and TCP_MD5SIG on a socket, used on the
 * listener too: Linux copies a listener's keys to the connections it accepts, so one key per
 * password peer on the listener covers incoming sessions while peers without one are unaffected.
 *
 * The addon is built by `npm ci` (postinstall: scripts/build-native.ts) with the system `cc` against
 * the headers of the Node that runs us (no node-gyp), and again on first use when missing or older
 * than its source. `TORTIE_MD5_ADDON` names a prebuilt one (the image, which has no compiler).
 * When it cannot be had, `loadTcpMd5()` says why, once; a peer with a password then refuses to
 * start rather than run without its signature.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import net, { type Server, type Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = new URL('../../../', import.meta.url);
export const MD5_ADDON_SOURCE = fileURLToPath(new URL('native/tortie-md5.c', root));
export const MD5_ADDON_DEFAULT_PATH = fileURLToPath(new URL('build/tortie-md5.node', root));
/** RFC 2385 sets no limit; Linux does (TCP_MD5SIG_MAXKEYLEN), and so do BIRD and FRR. */
export const MD5_MAX_KEY_BYTES = 80;

export const TcpMd5ErrorCode = {
  /** The addon could not be built or loaded (no compiler at install, no Node headers, ...). */
  Unavailable: 'TORTIE_MD5_UNAVAILABLE',
  /** The password is empty or longer than 80 bytes. */
  BadKey: 'TORTIE_MD5_BAD_KEY',
  /** The kernel refused the key (a kernel without CONFIG_TCP_MD5SIG, a socket of the wrong family). */
  SetKey: 'TORTIE_MD5_SET_KEY',
} as const;
export type TcpMd5ErrorCode = (typeof TcpMd5ErrorCode)[keyof typeof TcpMd5ErrorCode];

export class TcpMd5Error extends Error {
  readonly code: TcpMd5ErrorCode;
  constructor(code: TcpMd5ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TcpMd5Error';
    this.code = code;
  }
}

/** What native/tortie-md5.c exports. */
interface Md5Addon {
  socket(family: 4 | 6): number;
  setKey(fd: number, peer: string, key: Buffer | null): void;
  close(fd: number): void;
}

/** Where Node's own headers are: `<prefix>/bin/node` ships `<prefix>/include/node` (node_api.h). */
export function nodeIncludeDir(execPath = process.execPath): string {
  return process.env.TORTIE_NODE_INCLUDE ?? resolve(dirname(execPath), '..', 'include', 'node');
}

export function buildMd5Addon(out = MD5_ADDON_DEFAULT_PATH): string {
  mkdirSync(dirname(out), { recursive: true });
  const include = nodeIncludeDir();
  if (!existsSync(resolve(include, 'node_api.h'))) {
    throw new TcpMd5Error(TcpMd5ErrorCode.Unavailable, `could not build ${out}: Node's headers are not in ${include} (node_api.h; set TORTIE_NODE_INCLUDE to their directory)`);
  }
  // Beside the target, then renamed: a process loading the old one never sees a half-written file.
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-shared', '-fPIC', `-I${include}`, '-o', tmp, MD5_ADDON_SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(tmp, out);
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new TcpMd5Error(
      TcpMd5ErrorCode.Unavailable,
      `could not build ${out} from ${MD5_ADDON_SOURCE} (needs a C compiler, e.g. apt-get install gcc; or set TORTIE_MD5_ADDON to a built addon): ${err.stderr?.toString().trim() || err.message}`,
      { cause: e },
    );
  }
  return out;
}

let loaded: { addon: Md5Addon } | { error: TcpMd5Error } | null = null;

function addonPath(): string {
  const override = process.env.TORTIE_MD5_ADDON;
  if (override) return override;
  const stale = !existsSync(MD5_ADDON_DEFAULT_PATH) || (existsSync(MD5_ADDON_SOURCE) && statSync(MD5_ADDON_SOURCE).mtimeMs > statSync(MD5_ADDON_DEFAULT_PATH).mtimeMs);
  return stale ? buildMd5Addon() : MD5_ADDON_DEFAULT_PATH;
}

/**
 * The addon, built or loaded on first use; afterwards the same answer (a failure too, so that a
 * machine without a compiler does not run `cc` for every peer).
 */
export function loadTcpMd5(): TcpMd5 {
  if (loaded === null) {
    try {
      const path = addonPath();
      const m = { exports: {} as Md5Addon };
      try {
        process.dlopen(m, path);
      } catch (e) {
        throw new TcpMd5Error(TcpMd5ErrorCode.Unavailable, `could not load ${path}: ${(e as Error).message}`, { cause: e });
      }
      loaded = { addon: m.exports };
    } catch (e) {
      loaded = { error: e instanceof TcpMd5Error ? e : new TcpMd5Error(TcpMd5ErrorCode.Unavailable, String(e), { cause: e }) };
    }
  }
  if ('error' in loaded) throw loaded.error;
  return new TcpMd5(loaded.addon);
}

/** True when TCP MD5 can be used here; otherwise the reason (for status and errors). */
export function tcpMd5Availability(): { ok: true } | { ok: false; reason: string } {
  try {
    loadTcpMd5();
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

/** A password as the kernel takes it: its UTF-8 bytes, 1 to 80 of them. The message never shows it. */
export function md5Key(password: string): Buffer {
  const key = Buffer.from(password, 'utf8');
  if (key.length === 0) throw new TcpMd5Error(TcpMd5ErrorCode.BadKey, 'the BGP password is empty');
  if (key.length > MD5_MAX_KEY_BYTES) throw new TcpMd5Error(TcpMd5ErrorCode.BadKey, `the BGP password is ${key.length} bytes long; TCP MD5 allows at most ${MD5_MAX_KEY_BYTES}`);
  return key;
}

const familyOf = (address: string): 4 | 6 => (address.includes(':') ? 6 : 4);

export class TcpMd5 {
  readonly #addon: Md5Addon;
  constructor(addon: Md5Addon) {
    this.#addon = addon;
  }

  /**
   * A connection to `host` whose segments carry the signature from the SYN on. Node adopts the
   * bare socket (`new net.Socket({ fd })`) and `connect` reuses that handle, binding the source
   * address first when given.
   */
  connect(opts: { host: string; port: number; localAddress?: string; password: string }): Socket {
    const key = md5Key(opts.password);
    const fd = this.#addon.socket(familyOf(opts.host));
    let socket: Socket;
    try {
      this.setKeyOn(fd, opts.host, key);
      socket = new net.Socket({ fd });
    } catch (e) {
      this.#addon.close(fd);
      throw e;
    }
    return socket.connect({ host: opts.host, port: opts.port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  }

  /**
   * Sets (or, with null, removes) a peer's key on a listening server: connections it accepts from
   * that address must then be signed with it; connections from others are not affected.
   */
  setListenerKey(server: Server, peer: string, password: string | null): void {
    const fd = (server as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
    if (fd === undefined || fd < 0) throw new TcpMd5Error(TcpMd5ErrorCode.SetKey, 'the BGP listener has no socket to set a TCP MD5 key on');
    this.setKeyOn(fd, peer, password === null ? null : md5Key(password));
  }

  private setKeyOn(fd: number, peer: string, key: Buffer | null): void {
    try {
      this.#addon.setKey(fd, peer, key);
    } catch (e) {
      const why = (e as { code?: string }).code;
      throw new TcpMd5Error(TcpMd5ErrorCode.SetKey, `cannot set the TCP MD5 key for ${peer}: ${(e as Error).message}${why === 'ENOPROTOOPT' ? ' (kernel without CONFIG_TCP_MD5SIG)' : ''}`, { cause: e });
    } finally {
      key?.fill(0);
    }
  }
}
