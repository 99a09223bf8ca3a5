/**
 * The HTTP/REST front end (KServe v2 + Triton extensions), on whichever transport
 * engine serves (engines/): net (node:net + llhttp, the default), node:http, or native
 * uWebSockets.js.
 * This file owns what every engine shares: the request count that shutdown waits on,
 * the shutting-down answer, and the order of closing. All work past decoding goes
 * through the DataPlane.
 */
import type { TlsMaterial } from '../../config/tls.js';
import type { DataPlane } from '../../dataplane/api.js';
import type { AccessControl } from '../access.js';
import type { Admission } from '../admission.js';
import { RequestBytesBudget } from '../request-bytes.js';
import type { HttpContext } from './context.js';
import { dispatch, type HeaderReader } from './dispatch.js';
import type { HttpEngineChoice, HttpEngineName } from './engines/engine.js';
import { type EngineSelection, selectHttpEngine } from './engines/select.js';
import type { Exchange, HttpLogger } from './exchange.js';

/** --max-inflight-request-bytes's default: 1 GiB. */
export const DEFAULT_INFLIGHT_BODY_BYTES = 1024 * 1024 * 1024;

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  /** Largest accepted request body, before and after decompression (413 above). */
  maxBodyBytes: number;
  /** Request bytes all requests in flight may hold together, shared with gRPC (503 above); default: its own, of DEFAULT_INFLIGHT_BODY_BYTES. */
  requestBytes?: RequestBytesBudget;
  /** Rate limits and early refusals of inference requests; none: every request goes on to its body. */
  admission?: Admission;
  /** An engine already selected (selectHttpEngine), or the choice to select by; default 'auto'. */
  engine?: HttpEngineChoice | EngineSelection;
  logger?: HttpLogger;
  /** Restricted APIs and the loopback-only default for admin calls (none: all open). */
  access?: AccessControl;
  /** Serve HTTPS (loadTls); plain HTTP when absent. */
  tls?: TlsMaterial;
}

export interface HttpServer {
  readonly port: number;
  /** The engine that serves, with a description for the log. */
  readonly engine: { readonly name: HttpEngineName; readonly description: string; readonly note: string };
  /** The shutdown grace period begins: answers from now on close their connections (still served). */
  drain(): void;
  /** Stop listening, wait for in-flight requests to be answered, then drop every connection. */
  close(): Promise<void>;
}

/** Throws StartupError when `engine: 'uws'` names a uWS that cannot load here. */
export async function startHttpServer(dp: DataPlane, opts: HttpServerOptions): Promise<HttpServer> {
  const choice = opts.engine ?? 'auto';
  const { engine, note } = typeof choice === 'string' ? selectHttpEngine(choice) : choice;
  const bodyBudget = opts.requestBytes ?? new RequestBytesBudget(DEFAULT_INFLIGHT_BODY_BYTES);
  const ctx: HttpContext = { dp, maxBodyBytes: opts.maxBodyBytes, bodyBudget, logger: opts.logger, access: opts.access, admission: opts.admission };
  let inFlight = 0;
  let closing = false;
  let draining = false;
  let onIdle: (() => void) | undefined;

  const front = {
    release: (ex: Exchange): void => {
      if (ex.heldBytes !== 0) bodyBudget.giveBack(ex);
      if (--inFlight === 0 && onIdle !== undefined) onIdle();
    },
    handle<R>(ex: Exchange, method: string, path: string, req: R, header: HeaderReader<R>): void {
      inFlight++;
      if (draining) ex.closeConnection = true;
      dispatch(ctx, ex, method, path, req, header, closing);
    },
  };

  const listening = await engine.listen(opts.host, opts.port, front, opts.tls);
  let closed: Promise<void> | undefined;
  return {
    port: listening.port,
    engine: { name: engine.name, description: engine.description, note },
    drain: () => { draining = true; },
    close: () => closed ??= new Promise<void>((done) => {
      closing = true;
      listening.stopListening();
      onIdle = () => {
        onIdle = undefined;
        // Not from inside an engine callback (the last answer's write may be one).
        setImmediate(() => {
          listening.closeConnections();
          done();
        });
      };
      if (inFlight === 0) onIdle();
    }),
  };
}
