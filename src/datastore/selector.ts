/**
 * Label selectors for BGPPeer nodeSelector and peerSelector.
 *
 * The syntax is Kubernetes' set-based label selector string, as `kubectl get -l` takes it
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors):
 *
 *   rack=r1                  equality (also `==`)
 *   rack!=r1                 inequality (true when the label is absent, as in Kubernetes)
 *   zone in (a, b)           set membership; `notin` also true when absent
 *   spine                    the label exists;  !spine  the label is absent
 *   rack=r1,zone in (a)      comma = AND; there is no OR
 *
 * One addition for Calico users: `all()` selects every node. The empty string also selects every
 * node (Kubernetes semantics); a selector field that is absent selects nothing, which the model
 * keeps as null. Calico's own expression language (&&, ||, has()) is not supported: a selector
 * using it fails to parse with an error that says so.
 */
import { DatastoreError, DatastoreErrorCode } from './errors.ts';

type Requirement =
  | { op: 'exists' | 'notExists'; key: string }
  | { op: 'in' | 'notIn'; key: string; values: ReadonlySet<string> };

export interface LabelSelector {
  readonly source: string;
  matches(labels: Readonly<Record<string, string>>): boolean;
}

// Label keys: optional DNS prefix and a name (RFC 1123 subdomain / 63-character name); values too.
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function fail(source: string, message: string): never {
  throw new DatastoreError(DatastoreErrorCode.BadSelector, `selector '${source}'`, message);
}

/** Splits on commas that are outside parentheses. */
function splitTop(source: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(source.slice(start, i));
      start = i + 1;
    }
    if (depth < 0) fail(source, `unbalanced ')' at offset ${i}`);
  }
  if (depth !== 0) fail(source, `unbalanced '('`);
  parts.push(source.slice(start));
  return parts.map((p) => p.trim());
}

function checkKey(source: string, key: string): string {
  if (!KEY.test(key)) fail(source, `'${key}' is not a valid label key`);
  return key;
}

function checkValue(source: string, value: string): string {
  if (value.length > 63 || !VALUE.test(value)) fail(source, `'${value}' is not a valid label value`);
  return value;
}

function parseRequirement(source: string, text: string): Requirement {
  if (text === '') fail(source, 'empty requirement (stray comma?)');
  if (/&&|\|\||has\(|==\s*'|"/.test(text)) {
    fail(source, `'${text}' looks like Calico selector syntax; write a Kubernetes label selector such as "rack=r1,zone in (a,b)"`);
  }
  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(text);
  if (set) {
    const values = set[3].split(',').map((v) => checkValue(source, v.trim()));
    if (values.length === 0 || (values.length === 1 && values[0] === '')) fail(source, `'${text}' has an empty value set`);
    return { op: set[2] === 'in' ? 'in' : 'notIn', key: checkKey(source, set[1]), values: new Set(values) };
  }
  const eq = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(text);
  if (eq) {
    return { op: eq[2] === '!=' ? 'notIn' : 'in', key: checkKey(source, eq[1]), values: new Set([checkValue(source, eq[3].trim())]) };
  }
  if (text.startsWith('!')) return { op: 'notExists', key: checkKey(source, text.slice(1).trim()) };
  return { op: 'exists', key: checkKey(source, text) };
}

/** Parses a selector; throws DatastoreError (code TK_DS_BAD_SELECTOR) naming what is wrong. */
export function parseSelector(source: string): LabelSelector {
  const trimmed = source.trim();
  if (trimmed === '' || trimmed === 'all()') {
    return { source, matches: () => true };
  }
  const requirements = splitTop(trimmed).map((part) => parseRequirement(source, part));
  return {
    source,
    matches(labels) {
      for (const r of requirements) {
        const has = Object.hasOwn(labels, r.key);
        switch (r.op) {
          case 'exists': if (!has) return false; break;
          case 'notExists': if (has) return false; break;
          case 'in': if (!has || !r.values.has(labels[r.key])) return false; break;
          case 'notIn': if (has && r.values.has(labels[r.key])) return false; break;
        }
      }
      return true;
    },
  };
}

const cache = new Map<string, LabelSelector>();

/** Parses with a small cache: peers are re-evaluated against every node on each change. */
export function selectorFor(source: string): LabelSelector {
  let sel = cache.get(source);
  if (!sel) {
    sel = parseSelector(source);
    if (cache.size > 1000) cache.clear();
    cache.set(source, sel);
  }
  return sel;
}

/** True when `labels` match `selector`; null (field absent) matches nothing. */
export function selectorMatches(selector: string | null, labels: Readonly<Record<string, string>>): boolean {
  return selector !== null && selectorFor(selector).matches(labels);
}
