/**
 * The request handler every HTTP engine calls: path -> route, 405 with Allow, the
 * headers a route needs, then the route's handler. Engine-neutral: an engine hands in
 * its request object with a function that reads a header from it, so no closure is
 * made per request. Everything the handler needs from the request is read before it
 * returns (uWS's request object dies with the handler).
 */
import type { DataPlane } from '../../dataplane/api.js';
import { NotFound, Unavailable } from '../../errors/errors.js';
import type { HttpContext, RequestHead } from './context.js';
import { errorJson, type Exchange, JSON_TYPE, reply, replyError } from './exchange.js';
import { refusedEarly } from './early.js';
import { handleRoute } from './handlers.js';
import { type Route, changesState, checkVersion, matchRoute, routeCategory } from './router.js';
import type { AccessControl } from '../access.js';

/** Throws when the caller may not make this call; arranges the audit line when it changes state. */
function admit<R>(access: AccessControl, ex: Exchange, route: Route, method: string, path: string, changes: boolean, req: R, header: HeaderReader<R>): void {
  let peer: string | undefined;
  const peerOf = (): string => (peer ??= ex.remoteAddress());
  const a = access.admit('http', routeCategory(route), changes, (name) => header(req, name), peerOf);
  if (!a.audited) return;
  const who = peerOf();
  ex.answered = (status) => access.audit('http', who, a.keyName, `${method.toUpperCase()} ${path}`, String(status));
}

/** Reads one request header by its lower-case name; '' when absent. */
export type HeaderReader<R> = (req: R, name: string) => string;

const NO_HEAD: RequestHead = { contentLength: '', contentEncoding: '', inferHeaderLength: '' };

/** The header a model's sticky traffic policy hashes, read now. */
function routingHeader<R>(dp: DataPlane, model: string, req: R, header: HeaderReader<R>): RequestHead['routing'] {
  const name = dp.routingHeader?.(model);
  if (name === undefined) return undefined;
  const value = header(req, name);
  return value === '' ? undefined : [name, value];
}

/**
 * Answer one request. `method` is lower case, `path` has no query string.
 * `closing`: the server is shutting down (keep-alive connections can still send
 * requests after the listen socket closed); answered 503 and the connection closed.
 */
export function dispatch<R>(ctx: HttpContext, ex: Exchange, method: string, path: string, req: R, header: HeaderReader<R>, closing: boolean): void {
  try {
    if (closing) {
      replyError(ex, new Unavailable('Server is shutting down'), undefined, { close: true });
      return;
    }
    const match = matchRoute(path);
    if (match === undefined) throw new NotFound(`unknown path '${path}'`);
    // Restrictions are checked before the method, as Triton does.
    const access = ctx.access;
    if (access !== undefined) {
      const changes = changesState(match.route, method);
      if (changes || access.restricts('http')) admit(access, ex, match.route, method, path, changes, req, header);
    }
    if (!match.methods.includes(method)) {
      const allow = match.methods.map((m) => m.toUpperCase()).join(', ');
      // No error code maps to 405 (it is HTTP-only), so it is answered here.
      const message = `method ${method.toUpperCase()} is not allowed for '${path}'; use ${allow}`;
      reply(ex, 405, errorJson(message), { contentType: JSON_TYPE, allow });
      return;
    }
    const route = match.route;
    if ('version' in route) checkVersion(route.version);
    if (route.kind === 'model-infer' && ctx.admission !== undefined && refusedEarly(ctx.admission, ex, route.model, route.version, req, header)) return;
    const head: RequestHead = method === 'post' || method === 'put'
      ? {
        contentLength: header(req, 'content-length'),
        contentEncoding: header(req, 'content-encoding'),
        inferHeaderLength: header(req, 'inference-header-content-length'),
        routing: route.kind === 'model-infer' ? routingHeader(ctx.dp, route.model, req, header) : undefined,
      }
      : NO_HEAD;
    handleRoute(ctx, ex, route, method, head);
  } catch (err) {
    replyError(ex, err, ctx.logger);
  }
}
