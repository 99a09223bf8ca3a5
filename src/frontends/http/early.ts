/**
 * Early answers to an inference request, from its path and headers alone, before any
 * byte of its body is read: 429 with Retry-After when its client is over its rate
 * limit, 503 when its model's queue is full. The unread body is skipped by the engine
 * (llhttp frames and drops it on the net and node engines; uWS parses past it), so the connection stays usable.
 */
import type { Admission } from '../admission.js';
import { type Exchange, replyError } from './exchange.js';

/** True when the request was answered here. Called inside the engine's handler (uWS's req dies after it). */
export function refusedEarly<R>(a: Admission, ex: Exchange, model: string, version: string, req: R, header: (req: R, name: string) => string): boolean {
  const limiter = a.limiter;
  if (limiter !== undefined) {
    const limited = a.limit('http', limiter.keyHeader === '' ? '' : header(req, limiter.keyHeader), ex.remoteAddress());
    if (limited !== undefined) {
      replyError(ex, limited, undefined, { header: ['Retry-After', String(limited.retryAfterSecs)] });
      return true;
    }
  }
  const refused = a.refusal(model, version);
  if (refused === undefined) return false;
  replyError(ex, refused);
  return true;
}
