import type { PartialModelConfig } from '../config/model-config.js';

/** Which of the available versions a policy loads (Triton's ModelVersionPolicy). */
export function selectVersions(policy: PartialModelConfig['version_policy'], available: readonly number[]): number[] {
  const sorted = [...available].sort((a, b) => a - b);
  if (policy === undefined) return sorted.slice(-1);
  if ('all' in policy && policy.all !== undefined) return sorted;
  if ('specific' in policy && policy.specific !== undefined) {
    const wanted = policy.specific.versions ?? [];
    return sorted.filter((v) => wanted.includes(v));
  }
  const n = 'latest' in policy ? policy.latest?.num_versions ?? 1 : 1;
  return sorted.slice(-Math.max(1, n));
}

/** How many versions a `latest N` policy keeps serving; 0 for other policies. */
export function latestCount(policy: PartialModelConfig['version_policy']): number {
  if (policy === undefined) return 1;
  if ('latest' in policy && policy.latest !== undefined) return Math.max(1, policy.latest.num_versions ?? 1);
  return 0;
}
