/**
 * Reading a model config's `parameters` entries (string values, as Triton stores
 * them): the one place that says what a number or a boolean there may look like and
 * how a bad one is refused.
 */
import type { ModelConfig } from './model-config.js';
import { InvalidArgument } from '../errors/errors.js';

/** A non-negative integer parameter; absent or 0 gives `fallback`. */
export function intParam(cfg: Readonly<ModelConfig>, key: string, fallback: number): number {
  const v = cfg.parameters[key]?.string_value;
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgument(`model '${cfg.name}': parameter '${key}' must be a non-negative integer, got '${v}'`);
  return n === 0 ? fallback : n;
}

/** A boolean parameter: true/false or 1/0; absent gives `fallback`. */
export function boolParam(cfg: Readonly<ModelConfig>, key: string, fallback: boolean): boolean {
  const v = cfg.parameters[key]?.string_value;
  if (v === undefined) return fallback;
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw new InvalidArgument(`model '${cfg.name}': parameter '${key}' must be true/false or 1/0, got '${v}'`);
}
