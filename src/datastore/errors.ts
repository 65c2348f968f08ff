/** Errors of the datastores: each with a stable `code` a machine can switch on. */

export const DatastoreErrorCode = {
  /** An object failed validation; `issues` names each field. */
  InvalidObject: 'TK_DS_INVALID_OBJECT',
  /** The YAML file could not be parsed. */
  InvalidYaml: 'TK_DS_INVALID_YAML',
  /** The file holds two objects with the same kind and name. */
  DuplicateObject: 'TK_DS_DUPLICATE_OBJECT',
  /** The file could not be read (missing, permissions). */
  FileUnreadable: 'TK_DS_FILE_UNREADABLE',
  /** A watch or list against the API server failed; the informer is restarted. */
  WatchFailed: 'TK_DS_WATCH_FAILED',
  /** A watch stayed silent past the watchdog's limit; the informer is restarted. */
  WatchSilent: 'TK_DS_WATCH_SILENT',
  /** A Secret named by a BGPPeer password does not exist. */
  SecretMissing: 'TK_DS_SECRET_MISSING',
  /** Writing a node's BGP status failed. */
  StatusWriteFailed: 'TK_DS_STATUS_WRITE_FAILED',
  /** A --datastore value that names no datastore. */
  BadDatastoreSpec: 'TK_DS_BAD_SPEC',
  /** A label selector that does not parse. */
  BadSelector: 'TK_DS_BAD_SELECTOR',
} as const;
export type DatastoreErrorCode = (typeof DatastoreErrorCode)[keyof typeof DatastoreErrorCode];

/** A path into an object: ['spec', 'filters', 0, 'cidr']. */
export type FieldPath = readonly (string | number)[];

export function formatFieldPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out === '' ? '(object)' : out;
}

/** Where in a file an issue was found. Lines and columns count from 1. */
export interface SourcePosition {
  file: string;
  /** Index of the YAML document in the file, from 0. */
  document: number;
  line: number;
  column: number;
}

export interface ValidationIssue {
  path: FieldPath;
  message: string;
  position?: SourcePosition;
}

export function formatIssue(issue: ValidationIssue): string {
  const where = issue.position
    ? `${issue.position.file}:${issue.position.line}:${issue.position.column} (document ${issue.position.document}) `
    : '';
  return `${where}${formatFieldPath(issue.path)}: ${issue.message}`;
}

export class DatastoreError extends Error {
  readonly code: DatastoreErrorCode;
  /** What it is about, e.g. "BGPPeer rack1-tor" or a file path. */
  readonly subject: string;
  readonly issues: readonly ValidationIssue[];
  constructor(code: DatastoreErrorCode, subject: string, message: string, issues: readonly ValidationIssue[] = [], options?: { cause?: unknown }) {
    const details = issues.length > 0 ? `\n  ${issues.map(formatIssue).join('\n  ')}` : '';
    super(`${subject}: ${message}${details}`, options);
    this.name = 'DatastoreError';
    this.code = code;
    this.subject = subject;
    this.issues = issues;
  }
}
