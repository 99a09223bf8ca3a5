/**
 * The HTTP/REST front end (KServe v2 + Triton extensions) on uWebSockets.js.
 *
 * One catch-all uWS handler routes by path itself (router.ts), because uWS's own
 * patterns hand back percent-encoded parameters and cannot answer 405. Everything
 * the handler needs from `req` (method, path, headers) is read before it returns.
 * All work past decoding goes through the DataPlane.
 */
import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket } from 'uWebSockets.js';
import type { DataPlane } from '../../dataplane/api.js';
import { NotFound, Unavailable } from '../../errors/errors.js';
import type { HttpContext, RequestHead } from './context.js';
import { errorJson, Exchange, type HttpLogger, JSON_TYPE, reply, replyError } from './exchange.js';
import { handleRoute } from './handlers.js';
import { checkVersion, matchRoute } from './router.js';

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  /** Largest accepted request body, before and after decompression (413 above). */
  maxBodyBytes: number;
  logger?: HttpLogger;
}

export interface HttpServer {
  readonly port: number;
  /** Stop listening, wait for in-flight requests to be answered, then drop every connection. */
  close(): Promise<void>;
}

const NO_HEAD: RequestHead = { contentLength: '', contentEncoding: '', inferHeaderLength: '' };

/** The header a model's sticky traffic policy hashes, read now (`req` dies with the handler). */
function routingHeader(dp: DataPlane, model: string, req: HttpRequest): RequestHead['routing'] {
  const name = dp.routingHeader?.(model);
  if (name === undefined) return undefined;
  const value = req.getHeader(name);
  return value === '' ? undefined : [name, value];
}

export function startHttpServer(dp: DataPlane, opts: HttpServerOptions): Promise<HttpServer> {
  const ctx: HttpContext = { dp, maxBodyBytes: opts.maxBodyBytes, logger: opts.logger };
  const app: TemplatedApp = uWS.App();
  let inFlight = 0;
  let closing = false;
  let onIdle: (() => void) | undefined;

  const release = (): void => {
    if (--inFlight === 0 && onIdle !== undefined) onIdle();
  };

  app.any('/*', (res: HttpResponse, req: HttpRequest) => {
    inFlight++;
    const ex = new Exchange(res, req.getHeader('accept-encoding'), release);
    const method = req.getMethod();
    const path = req.getUrl();
    try {
      if (closing) {
        // Keep-alive connections can still send requests after the listen socket closed.
        replyError(ex, new Unavailable('Server is shutting down'), undefined, { close: true });
        return;
      }
      const match = matchRoute(path);
      if (match === undefined) throw new NotFound(`unknown path '${path}'`);
      if (!match.methods.includes(method)) {
        const allow = match.methods.map((m) => m.toUpperCase()).join(', ');
        // No error code maps to 405 (it is HTTP-only), so it is answered here.
        const message = `method ${method.toUpperCase()} is not allowed for '${path}'; use ${allow}`;
        reply(ex, 405, errorJson(message), { contentType: JSON_TYPE, allow });
        return;
      }
      const route = match.route;
      if ('version' in route) checkVersion(route.version);
      const head: RequestHead = method === 'post' || method === 'put'
        ? {
          contentLength: req.getHeader('content-length'),
          contentEncoding: req.getHeader('content-encoding'),
          inferHeaderLength: req.getHeader('inference-header-content-length'),
          routing: route.kind === 'model-infer' ? routingHeader(dp, route.model, req) : undefined,
        }
        : NO_HEAD;
      handleRoute(ctx, ex, route, method, head);
    } catch (err) {
      replyError(ex, err, ctx.logger);
    }
  });

  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (socket: us_listen_socket | false) => {
      if (socket === false) {
        reject(new Error(`HTTP server failed to listen on ${opts.host}:${opts.port}`));
        return;
      }
      const port = uWS.us_socket_local_port(socket as unknown as us_socket);
      let closed: Promise<void> | undefined;
      resolve({
        port,
        close: () => closed ??= new Promise<void>((done) => {
          closing = true;
          uWS.us_listen_socket_close(socket);
          onIdle = () => {
            onIdle = undefined;
            // Not from inside a uWS callback: closing the app there would free the
            // socket that callback is still using.
            setImmediate(() => {
              (app as unknown as { close?: () => void }).close?.();
              done();
            });
          };
          if (inFlight === 0) onIdle();
        }),
      });
    });
  });
}
