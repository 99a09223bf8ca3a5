/**
 * Who may call what, for both front ends: Triton's restricted categories (a header
 * or gRPC metadata key must carry a configured value), and Osprey's default for
 * calls that change state (model load/unload, traffic changes, logging updates,
 * shared-memory register/unregister): loopback callers only, until a restriction
 * names a key for the category; then whoever presents the key, from anywhere.
 * Accepted state-changing calls are written to the log as audit lines.
 *
 * The adapters hand in what their transport reports (the peer address, a header
 * reader); nothing here knows HTTP or gRPC objects.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { RestrictedCategory, Restriction, Restrictions } from '../config/restricted.js';
import { RemoteAdminRefused, Restricted } from '../errors/errors.js';

export interface AuditLogger { info(obj: object, msg?: string): void }

export interface AccessOptions {
  http: Restrictions;
  grpc: Restrictions;
  /** Where audit lines go (the server's logger). */
  audit: AuditLogger;
}

/** What a check decided for one call. */
export interface Admission {
  /** The call changes state: log an audit line once it is answered. */
  readonly audited: boolean;
  /** The restriction key the caller presented ('' when none was needed). */
  readonly keyName: string;
}

const OPEN: Admission = Object.freeze({ audited: false, keyName: '' });

/** 127.0.0.0/8, ::1 and IPv4-mapped 127.x, as transports report them. */
export function isLoopback(address: string): boolean {
  let a = address;
  if (a.startsWith('[')) a = a.slice(1, a.indexOf(']'));
  if (a.startsWith('::ffff:')) a = a.slice(7);
  if (isIPv4(a)) return a.startsWith('127.');
  return a === '::1' || a === '0:0:0:0:0:0:0:1';
}

/** Constant-time equality of two secrets of any lengths (compared as SHA-256 digests). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

interface Rule { key: string; header: string; value: string }

function rules(r: Restrictions, prefix: string): Map<RestrictedCategory, Rule> {
  const out = new Map<RestrictedCategory, Rule>();
  for (const [cat, { key, value }] of r as ReadonlyMap<RestrictedCategory, Restriction>) {
    out.set(cat, { key: prefix + key, header: (prefix + key).toLowerCase(), value });
  }
  return out;
}

export class AccessControl {
  readonly #http: Map<RestrictedCategory, Rule>;
  readonly #grpc: Map<RestrictedCategory, Rule>;
  readonly #audit: AuditLogger;

  constructor(o: AccessOptions) {
    this.#http = rules(o.http, '');
    this.#grpc = rules(o.grpc, 'triton-grpc-protocol-');
    this.#audit = o.audit;
  }

  /** Whether any category is restricted for the protocol (the hot path skips checks otherwise). */
  restricts(protocol: 'http' | 'grpc'): boolean {
    return (protocol === 'http' ? this.#http : this.#grpc).size > 0;
  }

  /**
   * Throws Restricted or RemoteAdminRefused, or says whether to audit. `header`
   * reads a lower-case header / metadata key ('' when absent); `peer()` gives the
   * address the transport reports, read only when needed.
   */
  admit(protocol: 'http' | 'grpc', category: RestrictedCategory, changesState: boolean, header: (name: string) => string, peer: () => string): Admission {
    const rule = (protocol === 'http' ? this.#http : this.#grpc).get(category);
    if (rule !== undefined) {
      if (!sameSecret(header(rule.header), rule.value)) {
        throw new Restricted(protocol === 'http'
          ? `This API is restricted, expecting header '${rule.key}'`
          : `This protocol is restricted, expecting header '${rule.key}'`);
      }
      return changesState ? { audited: true, keyName: rule.key } : OPEN;
    }
    if (!changesState) return OPEN;
    if (!isLoopback(peer())) throw new RemoteAdminRefused(category, protocol);
    return { audited: true, keyName: '' };
  }

  /** One audit line for an accepted state-changing call, once it is answered. */
  audit(protocol: 'http' | 'grpc', peer: string, keyName: string, call: string, result: string): void {
    this.#audit.info({ audit: true, protocol, peer, key: keyName === '' ? null : keyName, call, result }, 'admin call');
  }
}
