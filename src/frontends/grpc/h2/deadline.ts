/**
 * The grpc-timeout request header, read as grpc-js 1.14 reads it (server-interceptors.js):
 * the first `<1-8 digits><unit>` anywhere in the value (the pattern is not anchored),
 * its milliseconds truncated to a 32-bit integer (`| 0`, as grpc-js). A value without
 * one is malformed: INTERNAL `Invalid grpc-timeout value "<value>"`. A value that is not
 * printable ASCII is dropped by grpc-js's Metadata (no deadline at all).
 */
const DEADLINE_REGEX = /(\d{1,8})\s*([HMSmun])/;
const UNIT_MS: Readonly<Record<string, number>> = { H: 3600000, M: 60000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
const LEGAL_VALUE = /^[ -~]*$/;

/**
 * Whether grpc-js's Metadata keeps a (non -bin) header value: printable ASCII only.
 * The others are dropped with a log line, so grpc-js reads the call as if the header
 * were absent (grpc-timeout: no deadline; grpc-encoding: identity).
 */
export function legalHeaderValue(value: string): boolean {
  return LEGAL_VALUE.test(value);
}

/** Milliseconds until the deadline; NaN when malformed; undefined when grpc-js ignores the value. */
export function timeoutMs(value: string): number | undefined {
  if (!LEGAL_VALUE.test(value)) return undefined;
  const match = DEADLINE_REGEX.exec(value);
  if (match === null) return NaN;
  return (+match[1]! * UNIT_MS[match[2]!]!) | 0;
}

/** The first value of a request header (node:http2 gives arrays for repeated ones it does not join). */
export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
