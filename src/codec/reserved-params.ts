import { InvalidArgument } from '../errors/errors.js';
import type { Params } from '../types/tensor.js';

/**
 * Triton reserves the request parameter `headers` and the `triton_` prefix. One
 * check, one message, used by both front ends while decoding and by the data plane
 * for callers that skip a front end.
 */
export function checkReservedParameters(params: Params): void {
  for (const key in params) {
    if (key === 'headers' || key.startsWith('triton_')) {
      throw new InvalidArgument(`Parameter '${key}' is a reserved parameter and cannot be specified.`);
    }
  }
}
