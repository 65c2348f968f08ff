/**
 * Errors as data. Decoders return a `BgpError` (what NOTIFICATION to send) or an `UpdateError`
 * (with its RFC 7606 action) and never throw. Encoders are fed our own data: when it cannot be put
 * on the wire they throw an `EncodeError`, a programming error with a stable code.
 */
import type { BgpError, UpdateError, UpdateErrorAction } from './types.ts';

export function bgpError(code: number, subcode: number, reason: string, data: Uint8Array = new Uint8Array(0)): BgpError {
  return { code, subcode, data, reason };
}

export function updateError(
  action: UpdateErrorAction,
  code: number,
  subcode: number,
  reason: string,
  data: Uint8Array = new Uint8Array(0),
  attrType?: number,
): UpdateError {
  const e: UpdateError = { action, code, subcode, data, reason };
  if (attrType !== undefined) e.attrType = attrType;
  return e;
}

/** RFC 7606 2: the actions ordered weakest to strongest. */
const strength: Record<UpdateErrorAction, number> = {
  'attribute-discard': 1,
  'treat-as-withdraw': 2,
  'afi-safi-disable': 3,
  'session-reset': 4,
};

/** The strongest of two actions (null is no action). */
export function strongest(a: UpdateErrorAction | null, b: UpdateErrorAction | null): UpdateErrorAction | null {
  if (a === null) return b;
  if (b === null) return a;
  return strength[b] > strength[a] ? b : a;
}

export type EncodeErrorCode = 'message-too-long' | 'invalid-address' | 'invalid-field' | 'unsupported-family';

/** Thrown by encoders when the message given cannot be encoded (a bug in the caller). */
export class EncodeError extends Error {
  readonly code: EncodeErrorCode;
  constructor(code: EncodeErrorCode, message: string) {
    super(message);
    this.name = 'EncodeError';
    this.code = code;
  }
}

/** Thrown by the text helpers (config and tests) for a prefix that does not parse. */
export class PrefixTextError extends Error {
  readonly code = 'invalid-prefix';
  constructor(message: string) {
    super(message);
    this.name = 'PrefixTextError';
  }
}
