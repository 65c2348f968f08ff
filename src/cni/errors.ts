/**
 * CNI errors as the specification defines them (SPEC.md "Error"): a numeric code, a short `msg`
 * and optional `details`, printed as JSON on stdout with a non-zero exit status.
 */

/** Well-known error codes (CNI spec 1.1, "Error"); 100 and up belong to the plugin. */
export const CniCode = {
  /** The configuration's cniVersion is not one this plugin speaks. */
  IncompatibleVersion: 1,
  /** A field in the network configuration is not supported; msg names the key and value. */
  UnsupportedField: 2,
  /** The container is unknown or does not exist (CHECK finds nothing to check). */
  UnknownContainer: 3,
  /** A required CNI_* environment variable is missing or malformed. */
  InvalidEnvironment: 4,
  /** Reading or writing a file, or a kernel operation, failed. */
  IoFailure: 5,
  /** stdin (or a delegate's stdout) is not the JSON it should be. */
  DecodeFailure: 6,
  /** The network configuration is well-formed JSON but wrong. */
  InvalidConfig: 7,
  /** Transient: the runtime should retry later (e.g. the node's pod CIDR is not known yet). */
  TryAgainLater: 11,
  /** STATUS: the plugin cannot service ADD requests. */
  NotAvailable: 50,
  /** STATUS: not available, and existing pods may have limited connectivity. */
  NotAvailableLimited: 51,
  /** Plugin-specific: the node's address blocks are exhausted. */
  NoAddressAvailable: 100,
  /** Plugin-specific: CHECK found the attachment differs from prevResult. */
  CheckFailed: 101,
  /** Plugin-specific: a delegated IPAM plugin failed; details carry its own error. */
  IpamFailed: 102,
} as const;

export type CniCodeValue = (typeof CniCode)[keyof typeof CniCode];

/** The JSON object the spec puts on stdout when a command fails. */
export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export class CniError extends Error {
  readonly code: number;
  readonly details: string | undefined;

  constructor(code: number, msg: string, details?: string, options?: { cause?: unknown }) {
    super(msg, options);
    this.name = 'CniError';
    this.code = code;
    this.details = details;
  }

  toJSON(cniVersion: string): CniErrorJson {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Wraps anything thrown into a CniError; unknown failures count as I/O (code 5). */
export function asCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new CniError(CniCode.IoFailure, 'operation failed', message, { cause: e });
}
