/**
 * One class per failure. Each carries a stable `code`; the two tables in
 * `status.ts` map codes to HTTP and gRPC statuses, so the front ends never decide
 * a status themselves. Messages are part of the wire contract (Triton clients and
 * tests match them), so keep them exact. The catalogue of classes, codes, statuses
 * and messages is README.md in this folder.
 */

/** Every code; the catalogue (README.md here) and the two status tables cover each (test/errors/catalogue.test.ts). */
export const ERROR_CODES = [
  'INVALID_ARG', 'NOT_FOUND', 'UNAVAILABLE', 'UNSUPPORTED', 'ALREADY_EXISTS', 'CANCELLED', 'DEADLINE_EXCEEDED',
  'PAYLOAD_TOO_LARGE', 'INFLIGHT_BYTES_EXCEEDED', 'RESPONSE_TOO_LARGE', 'RATE_LIMITED', 'RESTRICTED', 'PERMISSION_DENIED', 'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Longest quoted client string kept whole in a message (model names, ids, input names...). */
const QUOTED_MAX = 256;
/**
 * Most bytes a message may take as a gRPC `grpc-message` trailer, percent-encoded
 * (every byte outside printable ASCII becomes three). Clients refuse headers past
 * 8 KiB or so and then hang the call; HTTP answers carry the same text.
 */
const MESSAGE_BUDGET = 4096;

/** Cost of one UTF-16 unit in the percent-encoded trailer (a generous upper bound). */
function encodedCost(c: number): number {
  return c >= 0x20 && c <= 0x7e && c !== 0x25 ? 1 : 9;
}

/**
 * Messages echo what clients sent (a model name, an input name, a request id), so
 * a 100 KB name would make a 100 KB error. Quoted parts longer than QUOTED_MAX keep
 * their start and say how much was cut; what is still over the budget is cut at
 * the end. Short messages (all but hostile ones) return untouched.
 */
export function boundMessage(message: string): string {
  if (message.length * 9 <= MESSAGE_BUDGET) return message;
  let m = message.replace(/'([^']{257,})'/g, (_all, q: string) => `'${q.slice(0, QUOTED_MAX)}...' (${q.length - QUOTED_MAX} more characters)`);
  let cost = 0;
  for (let i = 0; i < m.length; i++) {
    cost += encodedCost(m.charCodeAt(i));
    if (cost > MESSAGE_BUDGET - 64) {
      // Never split a surrogate pair.
      const end = i > 0 && m.charCodeAt(i - 1) >= 0xd800 && m.charCodeAt(i - 1) <= 0xdbff ? i - 1 : i;
      m = `${m.slice(0, end)}... (message cut at ${MESSAGE_BUDGET} bytes)`;
      break;
    }
  }
  return m;
}

export class OspreyError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(boundMessage(message));
    this.code = code;
    this.name = new.target.name;
  }
}

/** Malformed request: bad JSON, wrong shape or datatype, unknown input/output name... */
export class InvalidArgument extends OspreyError {
  constructor(message: string) { super('INVALID_ARG', message); }
}

/** Triton answers an unknown model as INVALID_ARG (HTTP 400), not NOT_FOUND. */
export class ModelNotFound extends OspreyError {
  constructor(name: string, version = '') {
    super('INVALID_ARG', version === ''
      ? `Request for unknown model: '${name}' is not found`
      : `Request for unknown model: '${name}' version ${version} is not found`);
  }
}

/** The model exists but the version asked for is not (or no longer) ready. */
export class ModelNotReady extends OspreyError {
  constructor(name: string, version = '') {
    super('UNAVAILABLE', version === ''
      ? `Request for unknown model: '${name}' has no available versions`
      : `Request for unknown model: '${name}' version ${version} is not at ready state`);
  }
}

export class QueueFull extends OspreyError {
  constructor() { super('UNAVAILABLE', 'Exceeds maximum queue size'); }
}

/** The Triton queue-policy timeout (REJECT). */
export class RequestTimeout extends OspreyError {
  constructor() { super('UNAVAILABLE', 'Request timeout expired'); }
}

/** A client deadline (gRPC deadline) that cannot be met. */
export class DeadlineExceeded extends OspreyError {
  constructor(message = 'Deadline Exceeded') { super('DEADLINE_EXCEEDED', message); }
}

export class Cancelled extends OspreyError {
  constructor(message = 'Request was cancelled') { super('CANCELLED', message); }
}

export class Unavailable extends OspreyError {
  constructor(message: string) { super('UNAVAILABLE', message); }
}

export class Unsupported extends OspreyError {
  constructor(message: string) { super('UNSUPPORTED', message); }
}

/** A repository API call that names a repository (`repository_name`, or `/v2/repository/{r}/...`): Triton serves one namespace. */
export class RepositoryNameUnsupported extends OspreyError {
  constructor() { super('UNSUPPORTED', "'repository_name' specification is not supported"); }
}

export class AlreadyExists extends OspreyError {
  constructor(message: string) { super('ALREADY_EXISTS', message); }
}

/** Unknown route or resource other than a model. */
export class NotFound extends OspreyError {
  constructor(message: string) { super('NOT_FOUND', message); }
}

export class PayloadTooLarge extends OspreyError {
  constructor(limit: number) {
    super('PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${limit} bytes`);
  }
}

/**
 * --max-inflight-request-bytes: the request bytes every request in flight holds
 * (both front ends together) would pass the bound. Not the client's fault: HTTP 503
 * (and the connection closed, its body unread); gRPC RESOURCE_EXHAUSTED.
 */
export class InflightBytesExceeded extends OspreyError {
  constructor(limit: number) {
    super('INFLIGHT_BYTES_EXCEEDED', `request bytes in flight exceed the server's limit of ${limit} bytes (--max-inflight-request-bytes); retry later`);
  }
}

/** Refused by a restriction: Triton answers HTTP 403, gRPC UNAVAILABLE (texts below). */
export class Restricted extends OspreyError {
  constructor(message: string) { super('RESTRICTED', message); }
}

/** A state-changing call from a non-loopback peer with no key configured: 403 / PERMISSION_DENIED. */
export class RemoteAdminRefused extends OspreyError {
  constructor(category: string, protocol: 'http' | 'grpc') {
    const flag = protocol === 'http' ? `--http-restricted-api=${category}:<header>=<secret>` : `--grpc-restricted-protocol=${category}:<key>=<secret>`;
    super('PERMISSION_DENIED', `this call changes server state and is accepted only from loopback clients by default; to allow it from other hosts, start the server with ${flag} and send that ${protocol === 'http' ? 'header' : 'metadata'}`);
  }
}

/** --max-response-bytes: a request's outputs would be larger than the server sends. */
export class ResponseTooLarge extends OspreyError {
  constructor(bytes: number, limit: number) {
    super('RESPONSE_TOO_LARGE', `response of ${bytes} bytes exceeds the limit of ${limit} bytes (--max-response-bytes)`);
  }
}

/** --client-rate-limit: this client's token bucket is empty. */
export class RateLimited extends OspreyError {
  /** Whole seconds until the client has a token again (HTTP Retry-After). */
  readonly retryAfterSecs: number;
  constructor(retryAfterSecs: number) {
    super('RATE_LIMITED', `rate limit exceeded for this client (--client-rate-limit); retry after ${retryAfterSecs} s`);
    this.retryAfterSecs = retryAfterSecs;
  }
}

export class Internal extends OspreyError {
  constructor(message: string) { super('INTERNAL', message); }
}

/**
 * Triton's answer when a load cannot even read the model's source: not in any
 * repository, a `config` override that is not a ModelConfig, `file:` contents that
 * cannot be written. The cause (which may name a private folder) is only logged:
 * `detail` carries it to the logger, never to the client.
 */
export class ModelPollFailed extends OspreyError {
  readonly detail: string;
  constructor(name: string, detail = '') {
    super('INTERNAL', `failed to load '${name}', failed to poll from model repository`);
    this.detail = detail;
  }
}

/** Errors cross worker threads as plain data; rebuild them on the main thread. */
export interface ErrorData { code: ErrorCode; message: string }

export function toErrorData(err: unknown): ErrorData {
  if (err instanceof OspreyError) return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

export function fromErrorData(data: ErrorData): OspreyError {
  return new OspreyError(data.code, data.message);
}

/** Anything that is not an OspreyError becomes INTERNAL at the adapter. */
export function asOspreyError(err: unknown): OspreyError {
  if (err instanceof OspreyError) return err;
  return new Internal(err instanceof Error ? err.message : String(err));
}
