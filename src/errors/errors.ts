/**
 * One class per failure. Each carries a stable `code`; the two tables in
 * `status.ts` map codes to HTTP and gRPC statuses, so the front ends never decide
 * a status themselves. Messages are part of the wire contract (Triton clients and
 * tests match them), so keep them exact.
 */

export type ErrorCode =
  | 'INVALID_ARG'
  | 'NOT_FOUND'
  | 'UNAVAILABLE'
  | 'UNSUPPORTED'
  | 'ALREADY_EXISTS'
  | 'CANCELLED'
  | 'DEADLINE_EXCEEDED'
  | 'PAYLOAD_TOO_LARGE'
  | 'INTERNAL';

export class OspreyError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
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

/** Unknown route or resource other than a model. */
export class NotFound extends OspreyError {
  constructor(message: string) { super('NOT_FOUND', message); }
}

export class PayloadTooLarge extends OspreyError {
  constructor(limit: number) {
    super('PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${limit} bytes`);
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
