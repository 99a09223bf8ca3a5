/**
 * tritonserver's `--http-restricted-api` and `--grpc-restricted-protocol`:
 * `<category>[,<category>...]:<key>=<value>`, repeatable, each category in one group
 * only. A restricted category answers only callers that send header `<key>` (gRPC:
 * metadata `triton-grpc-protocol-<key>`) equal to `<value>`. Osprey adds the category
 * `traffic` (its traffic-policy admin). Parsed once here; checked by
 * src/frontends/access.ts.
 */

export const RESTRICTED_CATEGORIES = [
  'health', 'metadata', 'inference', 'shared-memory', 'model-config', 'model-repository',
  'statistics', 'trace', 'logging', 'traffic',
] as const;

export type RestrictedCategory = typeof RESTRICTED_CATEGORIES[number];

export interface Restriction {
  readonly key: string;
  readonly value: string;
}

/** Category -> the header it expects; categories not in the map are open. */
export type Restrictions = ReadonlyMap<RestrictedCategory, Restriction>;

/** A bad restriction flag: tritonserver prints the usage and exits 1. */
export class RestrictionFlagError extends Error {}

/**
 * Add one flag value to `into`. `flag` is `--http-restricted-api` or
 * `--grpc-restricted-protocol`; the messages are tritonserver's.
 */
export function addRestriction(into: Map<RestrictedCategory, Restriction>, flag: string, arg: string): void {
  const what = flag === '--grpc-restricted-protocol' ? 'protocol' : 'api';
  const colon = arg.indexOf(':');
  const eq = colon < 0 ? -1 : arg.indexOf('=', colon + 1);
  const names = colon < 0 ? '' : arg.slice(0, colon);
  const key = eq < 0 ? '' : arg.slice(colon + 1, eq);
  const value = eq < 0 ? '' : arg.slice(eq + 1);
  if (names === '' || key === '' || value === '') {
    throw new RestrictionFlagError(`${flag} option format is '<config name>:<setting>=<value>'. Got ${arg}`);
  }
  for (const name of names.split(',')) {
    if (!(RESTRICTED_CATEGORIES as readonly string[]).includes(name)) throw new RestrictionFlagError(`unknown restricted ${what} '${name}' `);
    const cat = name as RestrictedCategory;
    if (into.has(cat)) throw new RestrictionFlagError(`restricted ${what} '${name}' can not be specified in multiple config groups`);
    into.set(cat, Object.freeze({ key, value }));
  }
}
