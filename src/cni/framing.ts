/**
 * The wire between the C front end the kubelet runs (native/tortie-cni-shim.c) and the CNI
 * server in the agent (server.ts). Pure: bytes in, messages out; the sockets live elsewhere.
 *
 * shim -> server, one request per connection:
 *   "TCN1"                      magic and version
 *   u32 envLength, env          the CNI_* variables as "NAME=VALUE\0" entries
 *   u32 stdinLength, stdin      the network configuration exactly as the runtime sent it
 * server -> shim:
 *   'A'                         accepted: the server will run the request once it hears 'G'
 * shim -> server:
 *   'G'                         go: the shim has not given up waiting and will not fall back
 * server -> shim:
 *   'R' u32 exitCode, u32 stdoutLength, stdout, u32 stderrLength, stderr
 * All integers little endian. The 'A'/'G' handshake means a request runs either in the agent or
 * in the fallback plugin, never both: a shim that timed out closes without sending 'G'.
 */

export const MAGIC = Buffer.from('TCN1', 'latin1');
/** Server: request received, waiting for the go. */
export const TAG_ACCEPTED = 0x41; // 'A'
/** Shim: go ahead. */
export const TAG_GO = 0x47; // 'G'
/** Server: the result. */
export const TAG_RESULT = 0x52; // 'R'

/** Limits: a conflist with prevResult is a few kilobytes; anything near these is not a runtime. */
export const MAX_ENV_BYTES = 64 * 1024;
export const MAX_STDIN_BYTES = 4 * 1024 * 1024;

export interface CniRequest {
  /** CNI_* variables only. */
  env: Record<string, string>;
  stdin: string;
}

export interface CniResponse {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export const FramingErrorCode = {
  BadMagic: 'TORTIE_CNI_FRAME_MAGIC',
  TooLarge: 'TORTIE_CNI_FRAME_TOO_LARGE',
  BadEnv: 'TORTIE_CNI_FRAME_ENV',
  Truncated: 'TORTIE_CNI_FRAME_TRUNCATED',
} as const;

export class FramingError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'FramingError';
    this.code = code;
  }
}

export function encodeRequest(req: CniRequest): Buffer {
  const env = Buffer.from(Object.entries(req.env).map(([k, v]) => `${k}=${v}\0`).join(''), 'utf8');
  const stdin = Buffer.from(req.stdin, 'utf8');
  return Buffer.concat([MAGIC, u32(env.length), env, u32(stdin.length), stdin]);
}

export function encodeResponse(res: CniResponse): Buffer {
  const out = Buffer.from(res.stdout, 'utf8');
  const err = Buffer.from(res.stderr, 'utf8');
  return Buffer.concat([Buffer.from([TAG_RESULT]), u32(res.exitCode >>> 0), u32(out.length), out, u32(err.length), err]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/**
 * Incremental request decoder: `push` bytes as they arrive; it returns the request once complete.
 * Throws FramingError on anything that is not a request (and keeps throwing after that).
 */
export class RequestDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;

  push(chunk: Buffer): CniRequest | undefined {
    if (this.done) throw new FramingError(FramingErrorCode.BadMagic, 'data after the request');
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const b = this.buf;
    const magicLen = Math.min(b.length, MAGIC.length);
    if (!b.subarray(0, magicLen).equals(MAGIC.subarray(0, magicLen))) {
      throw new FramingError(FramingErrorCode.BadMagic, 'not a tortie-cni request (bad magic)');
    }
    if (b.length < 8) return undefined;
    const envLen = b.readUInt32LE(4);
    if (envLen > MAX_ENV_BYTES) throw new FramingError(FramingErrorCode.TooLarge, `environment of ${envLen} bytes exceeds ${MAX_ENV_BYTES}`);
    if (b.length < 12 + envLen) return undefined;
    const stdinLen = b.readUInt32LE(8 + envLen);
    if (stdinLen > MAX_STDIN_BYTES) throw new FramingError(FramingErrorCode.TooLarge, `stdin of ${stdinLen} bytes exceeds ${MAX_STDIN_BYTES}`);
    const end = 12 + envLen + stdinLen;
    if (b.length < end) return undefined;
    if (b.length > end) throw new FramingError(FramingErrorCode.BadMagic, 'data after the request');
    this.done = true;
    return { env: decodeEnv(b.subarray(8, 8 + envLen)), stdin: b.subarray(12 + envLen, end).toString('utf8') };
  }

  /** How many bytes are buffered of an incomplete request. */
  get pending(): number {
    return this.done ? 0 : this.buf.length;
  }
}

function decodeEnv(bytes: Buffer): Record<string, string> {
  const env: Record<string, string> = {};
  if (bytes.length === 0) return env;
  if (bytes[bytes.length - 1] !== 0) throw new FramingError(FramingErrorCode.BadEnv, 'environment block does not end with NUL');
  for (const entry of bytes.subarray(0, bytes.length - 1).toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new FramingError(FramingErrorCode.BadEnv, `environment entry '${entry.slice(0, 40)}' is not NAME=VALUE`);
    const name = entry.slice(0, eq);
    // Only the spec's parameters cross the socket; the agent's own environment is its own.
    if (!name.startsWith('CNI_')) throw new FramingError(FramingErrorCode.BadEnv, `environment entry ${name} is not a CNI_* variable`);
    env[name] = entry.slice(eq + 1);
  }
  return env;
}

/** Decodes what the server sends: ['A'] then ['R' ...]. For tests and the bench's client. */
export class ResponseDecoder {
  private buf: Buffer = Buffer.alloc(0);
  accepted = false;

  push(chunk: Buffer): CniResponse | undefined {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (!this.accepted) {
      if (this.buf.length < 1) return undefined;
      if (this.buf[0] !== TAG_ACCEPTED) throw new FramingError(FramingErrorCode.BadMagic, `expected 'A', got byte ${this.buf[0]}`);
      this.accepted = true;
      this.buf = this.buf.subarray(1);
    }
    const b = this.buf;
    if (b.length < 9) return undefined;
    if (b[0] !== TAG_RESULT) throw new FramingError(FramingErrorCode.BadMagic, `expected 'R', got byte ${b[0]}`);
    const exitCode = b.readUInt32LE(1);
    const outLen = b.readUInt32LE(5);
    if (b.length < 13 + outLen) return undefined;
    const errLen = b.readUInt32LE(9 + outLen);
    if (b.length < 13 + outLen + errLen) return undefined;
    return { exitCode, stdout: b.subarray(9, 9 + outLen).toString('utf8'), stderr: b.subarray(13 + outLen, 13 + outLen + errLen).toString('utf8') };
  }
}
