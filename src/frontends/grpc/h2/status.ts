/**
 * What the http2 engine writes in HTTP/2 headers, as grpc-js 1.14's server writes it
 * (server-interceptors.js): the response headers before the first message, the status
 * as trailers after messages, and a trailers-only answer (status in the one HEADERS
 * frame, END_STREAM) when no message was sent. grpc-message is percent-encoded with
 * encodeURI, as grpc-js does (clients decode it).
 */
import * as grpc from '@grpc/grpc-js';
import { constants, type OutgoingHttpHeaders } from 'node:http2';

/** A status as handlers and the engine produce it (grpc-js's PartialStatusObject). */
export interface CallStatus {
  code: grpc.status;
  details: string;
  metadata?: grpc.Metadata | null;
}

const CONTENT_TYPE = 'application/grpc+proto';

/** The response headers before the first message (grpc-js: defaultResponseHeaders + defaultCompressionHeaders). */
export const RESPONSE_HEADERS: OutgoingHttpHeaders = Object.freeze({
  [constants.HTTP2_HEADER_STATUS]: constants.HTTP_STATUS_OK,
  [constants.HTTP2_HEADER_CONTENT_TYPE]: CONTENT_TYPE,
  'grpc-accept-encoding': 'identity,deflate,gzip',
  'grpc-encoding': 'identity',
});

/** Trailers are sent on 'wantTrailers' once the messages are out. */
export const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true });
export const END_STREAM = Object.freeze({ endStream: true });

/** The trailers of every OK answer without metadata (one object, shared). */
export const OK_TRAILERS: OutgoingHttpHeaders = Object.freeze({ 'grpc-status': '0', 'grpc-message': 'OK' });

/** encodeURI, which throws on a lone surrogate: that one becomes U+FFFD first (grpc-js would throw). */
function encodeDetails(details: string): string {
  try {
    return encodeURI(details);
  } catch {
    return encodeURI(details.replace(/\p{Cs}/gu, '\uFFFD'));
  }
}

/** The trailers of `status` after messages were sent. */
export function trailersOf(status: CallStatus): OutgoingHttpHeaders {
  if (status.code === grpc.status.OK && status.details === 'OK' && (status.metadata === undefined || status.metadata === null)) return OK_TRAILERS;
  return { 'grpc-status': String(status.code), 'grpc-message': encodeDetails(status.details), ...status.metadata?.toHttp2Headers() };
}

/** A trailers-only answer: the status in the response headers (grpc-js's sendStatus before any message). */
export function trailersOnly(status: CallStatus): OutgoingHttpHeaders {
  return {
    'grpc-status': String(status.code),
    'grpc-message': encodeDetails(status.details),
    [constants.HTTP2_HEADER_STATUS]: constants.HTTP_STATUS_OK,
    [constants.HTTP2_HEADER_CONTENT_TYPE]: CONTENT_TYPE,
    ...status.metadata?.toHttp2Headers(),
  };
}

/**
 * The answer to a call no handler takes (an unknown method): grpc-js's _respondWithError,
 * whose grpc-message is the details as they are, not percent-encoded.
 */
export function unroutedAnswer(status: CallStatus): OutgoingHttpHeaders {
  return {
    'grpc-status': String(status.code),
    'grpc-message': status.details,
    [constants.HTTP2_HEADER_STATUS]: constants.HTTP_STATUS_OK,
    [constants.HTTP2_HEADER_CONTENT_TYPE]: CONTENT_TYPE,
  };
}

/** grpc-js's answer to a request whose content-type is not application/grpc*: HTTP 415, no gRPC status. */
export const UNSUPPORTED_MEDIA_TYPE: OutgoingHttpHeaders = Object.freeze({ [constants.HTTP2_HEADER_STATUS]: constants.HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE });
