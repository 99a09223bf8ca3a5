/**
 * What llhttp refused (on node:http and on the net engine, both parse with it) as an
 * answer: status and the {"error": ...} message (reason phrases: exchange.ts). Conflicting
 * Content-Length headers read as on uWS (400, body.ts's text).
 */
import http from 'node:http';
import { headersTooLarge } from './engine.js';

export function clientErrorAnswer(err: Error & { code?: string; reason?: string }): [number, string] {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, headersTooLarge(http.maxHeaderSize)];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, REQUEST_TIMEOUT];
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      if (err.reason === 'Duplicate Content-Length') return [400, 'conflicting Content-Length headers'];
  }
  return [400, `malformed HTTP request: ${err.reason ?? err.message}`];
}

export const REQUEST_TIMEOUT = 'the request was not received in time';
