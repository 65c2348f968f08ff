/**
 * Import and export policy as data: an ordered list of rules, the first that matches decides, and a
 * default action when none does. Policies are plain JSON-able objects (they come from config), are
 * validated once by `compilePolicy`, and then evaluate with numbers only.
 */
import { Afi } from '../wire/constants.ts';
import type { LargeCommunity } from '../wire/types.ts';
import type { AttrInput, AttrPool, AttrSet } from './attrs.ts';
import { parseCommunity, parseLargeCommunity } from './attrs.ts';
import type { PrefixError} from './prefix.ts';
import { keyAfi, keyContains, keyLen, parsePrefix, type RouteKey } from './prefix.ts';

/** A prefix with an optional length range: `{ prefix: '10.0.0.0/8', ge: 24, le: 32 }`. */
export interface PrefixMatch {
  prefix: string;
  /** Smallest length matched (default: the prefix's own length). */
  ge?: number;
  /** Largest length matched (default: `ge` when given, else the prefix's own length: exact). */
  le?: number;
}

export interface PolicyRule {
  /** For logs. */
  name?: string;
  /** All given conditions must hold; an empty match matches everything. */
  match?: {
    family?: 'ipv4' | 'ipv6';
    /** Matches when the route falls in any of these. */
    prefixes?: PrefixMatch[];
    /** Matches when the route carries any of these ("ASN:VALUE"). */
    communities?: string[];
    /** Matches when the route carries any of these ("ASN:DATA1:DATA2"). */
    largeCommunities?: string[];
  };
  action: 'accept' | 'reject';
  /** Changes applied to accepted routes. */
  set?: {
    localPref?: number;
    med?: number;
    addCommunities?: string[];
    addLargeCommunities?: string[];
  };
}

export interface Policy {
  rules: PolicyRule[];
  defaultAction: 'accept' | 'reject';
}

export const ACCEPT_ALL: Policy = { rules: [], defaultAction: 'accept' };

export class PolicyError extends Error {
  readonly code = 'bgp-invalid-policy';
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

interface CompiledPrefixMatch {
  key: RouteKey;
  ge: number;
  le: number;
}

interface CompiledRule {
  afi?: Afi;
  prefixes?: CompiledPrefixMatch[];
  communities?: Set<number>;
  largeCommunities?: LargeCommunity[];
  accept: boolean;
  changes?: Partial<AttrInput> & { addCommunities?: number[]; addLarge?: LargeCommunity[] };
  /** Memo: attribute set in -> attribute set out after `changes`. */
  memo: WeakMap<AttrSet, AttrSet>;
}

export class CompiledPolicy {
  private readonly rules: CompiledRule[];
  private readonly defaultAccept: boolean;

  constructor(rules: CompiledRule[], defaultAccept: boolean) {
    this.rules = rules;
    this.defaultAccept = defaultAccept;
  }

  /** The attributes to use, or null when the route is rejected. */
  evaluate(key: RouteKey, attrs: AttrSet, pool: AttrPool): AttrSet | null {
    for (const r of this.rules) {
      if (!ruleMatches(r, key, attrs)) continue;
      if (!r.accept) return null;
      if (!r.changes) return attrs;
      let out = r.memo.get(attrs);
      if (!out) {
        out = applyChanges(attrs, r.changes, pool);
        r.memo.set(attrs, out);
      }
      return out;
    }
    return this.defaultAccept ? attrs : null;
  }
}

function ruleMatches(r: CompiledRule, key: RouteKey, attrs: AttrSet): boolean {
  if (r.afi !== undefined && keyAfi(key) !== r.afi) return false;
  if (r.prefixes) {
    const len = keyLen(key);
    if (!r.prefixes.some((p) => len >= p.ge && len <= p.le && keyContains(p.key, key))) return false;
  }
  if (r.communities) {
    const cs = r.communities;
    if (!attrs.communities?.some((c) => cs.has(c >>> 0))) return false;
  }
  if (r.largeCommunities) {
    const want = r.largeCommunities;
    if (!attrs.largeCommunities?.some((c) => want.some((w) => w[0] === c[0] && w[1] === c[1] && w[2] === c[2]))) return false;
  }
  return true;
}

function applyChanges(attrs: AttrSet, ch: NonNullable<CompiledRule['changes']>, pool: AttrPool): AttrSet {
  const { addCommunities, addLarge, ...plain } = ch;
  const next: Partial<AttrInput> = { ...plain };
  if (addCommunities) {
    const cs = new Set(attrs.communities ?? []);
    for (const c of addCommunities) cs.add(c);
    next.communities = [...cs];
  }
  if (addLarge) {
    const have = [...(attrs.largeCommunities ?? [])];
    for (const l of addLarge) if (!have.some((h) => h[0] === l[0] && h[1] === l[1] && h[2] === l[2])) have.push(l);
    next.largeCommunities = have;
  }
  return pool.derive(attrs, next);
}

/** Validates a policy and turns it into matchers over compact keys. Throws PolicyError. */
export function compilePolicy(policy: Policy, where = 'policy'): CompiledPolicy {
  if (policy.defaultAction !== 'accept' && policy.defaultAction !== 'reject') {
    throw new PolicyError(`${where}: defaultAction must be "accept" or "reject"`);
  }
  const rules = policy.rules.map((rule, i): CompiledRule => {
    const at = `${where}: rule ${rule.name ?? i}`;
    if (rule.action !== 'accept' && rule.action !== 'reject') throw new PolicyError(`${at}: action must be "accept" or "reject"`);
    const m = rule.match ?? {};
    const out: CompiledRule = { accept: rule.action === 'accept', memo: new WeakMap() };
    if (m.family) {
      if (m.family !== 'ipv4' && m.family !== 'ipv6') throw new PolicyError(`${at}: family must be "ipv4" or "ipv6"`);
      out.afi = m.family === 'ipv4' ? Afi.IPv4 : Afi.IPv6;
    }
    if (m.prefixes) {
      out.prefixes = m.prefixes.map((p) => {
        let parsed;
        try {
          parsed = parsePrefix(p.prefix);
        } catch (e) {
          throw new PolicyError(`${at}: ${(e as PrefixError).message}`);
        }
        const own = keyLen(parsed.key);
        const max = parsed.afi === Afi.IPv4 ? 32 : 128;
        const ge = p.ge ?? own;
        const le = p.le ?? (p.ge !== undefined ? max : own);
        if (!(ge >= own && ge <= le && le <= max)) {
          throw new PolicyError(`${at}: length range ${ge}-${le} of ${p.prefix} must satisfy ${own} <= ge <= le <= ${max}`);
        }
        return { key: parsed.key, ge, le };
      });
    }
    try {
      if (m.communities) out.communities = new Set(m.communities.map(parseCommunity));
      if (m.largeCommunities) out.largeCommunities = m.largeCommunities.map(parseLargeCommunity);
      if (rule.set) {
        const s = rule.set;
        const ch: NonNullable<CompiledRule['changes']> = {};
        if (s.localPref !== undefined) ch.localPref = checkU32(s.localPref, `${at}: set.localPref`);
        if (s.med !== undefined) ch.med = checkU32(s.med, `${at}: set.med`);
        if (s.addCommunities) ch.addCommunities = s.addCommunities.map(parseCommunity);
        if (s.addLargeCommunities) ch.addLarge = s.addLargeCommunities.map(parseLargeCommunity);
        out.changes = ch;
      }
    } catch (e) {
      if (e instanceof PolicyError) throw e;
      throw new PolicyError(`${at}: ${(e as Error).message}`);
    }
    return out;
  });
  return new CompiledPolicy(rules, policy.defaultAction === 'accept');
}

function checkU32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new PolicyError(`${what} must be an integer 0-4294967295`);
  return v;
}
