import type { ErrorCode } from './errors.js';

/** Error code -> HTTP status (Triton's http_server.cc: UNSUPPORTED 501, ALREADY_EXISTS 400; plus 413/504 for our limits). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  INVALID_ARG: 400,
  NOT_FOUND: 404,
  UNAVAILABLE: 503,
  UNSUPPORTED: 501,
  ALREADY_EXISTS: 400,
  CANCELLED: 499,
  DEADLINE_EXCEEDED: 504,
  PAYLOAD_TOO_LARGE: 413,
  // The server's memory bound, not the request: retry later (as a full queue).
  INFLIGHT_BYTES_EXCEEDED: 503,
  // What the request asked for is more than the server will answer: the client's
  // to change (smaller inputs, fewer rows), so a 4xx.
  RESPONSE_TOO_LARGE: 400,
  RATE_LIMITED: 429,
  RESTRICTED: 403,
  PERMISSION_DENIED: 403,
  INTERNAL: 500,
});

/** Error code -> gRPC status code number (grpc-js `status` enum values). */
export const GRPC_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  INVALID_ARG: 3, // INVALID_ARGUMENT
  NOT_FOUND: 5, // NOT_FOUND
  UNAVAILABLE: 14, // UNAVAILABLE
  UNSUPPORTED: 12, // UNIMPLEMENTED
  ALREADY_EXISTS: 6, // ALREADY_EXISTS
  CANCELLED: 1, // CANCELLED
  DEADLINE_EXCEEDED: 4, // DEADLINE_EXCEEDED
  PAYLOAD_TOO_LARGE: 8, // RESOURCE_EXHAUSTED
  INFLIGHT_BYTES_EXCEEDED: 8, // RESOURCE_EXHAUSTED
  RESPONSE_TOO_LARGE: 8, // RESOURCE_EXHAUSTED
  RATE_LIMITED: 8, // RESOURCE_EXHAUSTED
  // Triton answers a missing restriction header UNAVAILABLE on gRPC (and 403 on HTTP).
  RESTRICTED: 14, // UNAVAILABLE
  PERMISSION_DENIED: 7, // PERMISSION_DENIED
  INTERNAL: 13, // INTERNAL
});
