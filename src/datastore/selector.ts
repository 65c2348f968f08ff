/**
 * Selectors for BGPPeer nodeSelector and peerSelector, in Calico's selector syntax, so that a
 * Calico user's selectors work unchanged (and the CRDs and examples use it):
 *
 *   all()                          every node ("" means the same)
 *   rack == 'r1'                   equality; value in single or double quotes
 *   rack != 'r1'                   true also when the label is absent
 *   has(rack)   !has(rack)         the label exists / does not
 *   rack in {'r1', 'r2'}           set membership;  rack not in {...}  also true when absent
 *   rack contains 'r'  rack starts with 'r'  rack ends with '1'
 *   a && b   a || b   !a   ( a )   the usual precedence: ! over && over ||
 *
 * A selector field that is absent selects nothing (the model keeps it as null). A Kubernetes
 * label selector ("rack=r1,zone in (a)") is refused with an error showing the Calico form.
 */
import { DatastoreError, DatastoreErrorCode } from './errors.ts';

type Labels = Readonly<Record<string, string>>;
type Match = (labels: Labels) => boolean;

export interface LabelSelector {
  readonly source: string;
  matches(labels: Labels): boolean;
}

type Token =
  | { t: 'word'; v: string; at: number }
  | { t: 'string'; v: string; at: number }
  | { t: 'op'; v: string; at: number }
  | { t: 'end'; v: ''; at: number };

const WORD = /[A-Za-z0-9_./-]/;

function fail(source: string, message: string): never {
  throw new DatastoreError(DatastoreErrorCode.BadSelector, `selector "${source}"`, message);
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === ' ' || c === '\t' || c === '\n') { i++; continue; }
    const two = source.slice(i, i + 2);
    if (two === '==' || two === '!=' || two === '&&' || two === '||') {
      tokens.push({ t: 'op', v: two, at: i });
      i += 2;
      continue;
    }
    if ('!(){},'.includes(c)) {
      tokens.push({ t: 'op', v: c, at: i });
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      const end = source.indexOf(c, i + 1);
      if (end < 0) fail(source, `unterminated string starting at offset ${i}`);
      tokens.push({ t: 'string', v: source.slice(i + 1, end), at: i });
      i = end + 1;
      continue;
    }
    if (WORD.test(c)) {
      const start = i;
      while (i < source.length && WORD.test(source[i])) i++;
      tokens.push({ t: 'word', v: source.slice(start, i), at: start });
      continue;
    }
    if (c === '=') {
      fail(source, `'=' at offset ${i}: Calico selectors compare with == and quote values, e.g. rack == 'r1' (this is not a Kubernetes label selector)`);
    }
    fail(source, `unexpected '${c}' at offset ${i}`);
  }
  tokens.push({ t: 'end', v: '', at: source.length });
  return tokens;
}

class Parser {
  readonly #source: string;
  readonly #tokens: Token[];
  #pos = 0;

  constructor(source: string) {
    this.#source = source;
    this.#tokens = tokenize(source);
  }

  parse(): Match {
    const m = this.#or();
    const t = this.#peek();
    if (t.t !== 'end') this.#fail(t, `unexpected '${t.v}'`);
    return m;
  }

  #peek(ahead = 0): Token {
    return this.#tokens[Math.min(this.#pos + ahead, this.#tokens.length - 1)];
  }

  #next(): Token {
    return this.#tokens[this.#pos++];
  }

  #fail(t: Token, message: string): never {
    fail(this.#source, `${message} at offset ${t.at}`);
  }

  #expectOp(v: string): void {
    const t = this.#next();
    if (t.t !== 'op' || t.v !== v) this.#fail(t, `expected '${v}'${t.t === 'end' ? ' before the end' : `, found '${t.v}'`}`);
  }

  #isOp(v: string): boolean {
    const t = this.#peek();
    return t.t === 'op' && t.v === v;
  }

  #isWord(v: string, ahead = 0): boolean {
    const t = this.#peek(ahead);
    return t.t === 'word' && t.v === v;
  }

  #or(): Match {
    const parts = [this.#and()];
    while (this.#isOp('||')) { this.#next(); parts.push(this.#and()); }
    return parts.length === 1 ? parts[0] : (l) => parts.some((p) => p(l));
  }

  #and(): Match {
    const parts = [this.#not()];
    while (this.#isOp('&&')) { this.#next(); parts.push(this.#not()); }
    return parts.length === 1 ? parts[0] : (l) => parts.every((p) => p(l));
  }

  #not(): Match {
    if (this.#isOp('!')) {
      this.#next();
      const inner = this.#not();
      return (l) => !inner(l);
    }
    return this.#atom();
  }

  #string(): string {
    const t = this.#next();
    if (t.t !== 'string') this.#fail(t, `expected a quoted value${t.t === 'word' ? ` (write '${t.v}')` : ''}`);
    return t.v;
  }

  #set(): Set<string> {
    this.#expectOp('{');
    const values = new Set<string>();
    if (!this.#isOp('}')) {
      values.add(this.#string());
      while (this.#isOp(',')) { this.#next(); values.add(this.#string()); }
    }
    this.#expectOp('}');
    return values;
  }

  #atom(): Match {
    const t = this.#next();
    if (t.t === 'op' && t.v === '(') {
      const inner = this.#or();
      this.#expectOp(')');
      return inner;
    }
    if (t.t !== 'word') this.#fail(t, t.t === 'end' ? 'unexpected end' : `unexpected '${t.v}'`);
    if ((t.v === 'all' || t.v === 'global') && this.#isOp('(')) {
      this.#next();
      this.#expectOp(')');
      return () => true;
    }
    if (t.v === 'has' && this.#isOp('(')) {
      this.#next();
      const key = this.#next();
      if (key.t !== 'word') this.#fail(key, 'expected a label key in has()');
      this.#expectOp(')');
      return (l) => Object.hasOwn(l, key.v);
    }
    const key = t.v;
    const get = (l: Labels) => (Object.hasOwn(l, key) ? l[key] : undefined);
    const op = this.#peek();
    if (op.t === 'op' && (op.v === '==' || op.v === '!=')) {
      this.#next();
      const value = this.#string();
      return op.v === '==' ? (l) => get(l) === value : (l) => get(l) !== value;
    }
    if (this.#isWord('in')) {
      this.#next();
      const set = this.#set();
      return (l) => { const v = get(l); return v !== undefined && set.has(v); };
    }
    if (this.#isWord('not') && this.#isWord('in', 1)) {
      this.#next();
      this.#next();
      const set = this.#set();
      return (l) => { const v = get(l); return v === undefined || !set.has(v); };
    }
    if (this.#isWord('contains')) {
      this.#next();
      const s = this.#string();
      return (l) => get(l)?.includes(s) ?? false;
    }
    if ((this.#isWord('starts') || this.#isWord('ends')) && this.#isWord('with', 1)) {
      const starts = this.#next().v === 'starts';
      this.#next();
      const s = this.#string();
      return starts ? (l) => get(l)?.startsWith(s) ?? false : (l) => get(l)?.endsWith(s) ?? false;
    }
    this.#fail(op, `expected ==, !=, in, not in, contains, starts with or ends with after '${key}' (write has(${key}) to test that it exists)`);
  }
}

/** Parses a selector; throws DatastoreError (code TK_DS_BAD_SELECTOR) saying what and where. */
export function parseSelector(source: string): LabelSelector {
  const match = source.trim() === '' ? () => true : new Parser(source).parse();
  return { source, matches: match };
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
export function selectorMatches(selector: string | null, labels: Labels): boolean {
  return selector !== null && selectorFor(selector).matches(labels);
}
