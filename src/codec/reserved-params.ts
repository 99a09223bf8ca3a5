import { InvalidArgument } from '../errors/errors.js';
import type { Params } from '../types/tensor.js';

/**
 * Triton reserves the `triton_` prefix for request parameters. One check, one
 * message, made once per request by request/prepare.ts (both front ends, and
 * callers that skip a front end). `headers` is not reserved server-side: tritonclient refuses
 * it itself, and Triton's front ends pass it through like any other parameter.
 */
export function checkReservedParameters(params: Params): void {
  for (const key in params) {
    if (key.startsWith('triton_')) {
      throw new InvalidArgument(`Parameter '${key}' is a reserved parameter and cannot be specified.`);
    }
  }
}

/**
 * The one `triton_` key Triton's gRPC front end accepts: Triton's C++ gRPC client
 * (perf_analyzer) sets it on every request. It must be a bool, and it is consumed:
 * the model never sees it. Its HTTP front end rejects it like every other `triton_` key.
 */
export const GRPC_EMPTY_FINAL_RESPONSE = 'triton_enable_empty_final_response';
