/**
 * Route -> DataPlane call -> answer, for every route. Synchronous DataPlane calls
 * throw straight to the dispatcher, which turns the error into `{"error": ...}`.
 */
import {
  decodeCudaRegisterBody, decodeIndexBody, decodeLoadBody, decodeLogSettingsBody, decodeShmRegisterBody, decodeUnloadBody,
} from '../../codec/json-control.js';
import { InvalidArgument, RepositoryNameUnsupported, Unsupported } from '../../errors/errors.js';
import { holdDecoded, readBody } from './body.js';
import { decodeContent } from './compress.js';
import type { HttpContext, RequestHead } from './context.js';
import { type Exchange, reply, replyError, replyJson } from './exchange.js';
import { handleInfer } from './infer.js';
import type { Route } from './router.js';

export function handleRoute(ctx: HttpContext, ex: Exchange, route: Route, method: string, head: RequestHead): void {
  const dp = ctx.dp;
  switch (route.kind) {
    case 'model-infer':
      return handleInfer(ctx, ex, route.model, route.version, head);
    // Health answers carry no body, in both states (Triton's behaviour).
    case 'health-live':
      return reply(ex, dp.isLive() ? 200 : 400, undefined);
    case 'health-ready':
      return reply(ex, dp.isReady() ? 200 : 400, undefined);
    case 'server-metadata':
      return replyJson(ex, JSON.stringify(dp.serverMetadata()));
    case 'model-metadata':
      return replyJson(ex, JSON.stringify(dp.modelMetadata(route.model, route.version)));
    case 'model-config':
      return replyJson(ex, JSON.stringify(dp.modelConfig(route.model, route.version)));
    case 'model-ready':
      if (dp.modelReady(route.model, route.version)) return reply(ex, 200, undefined);
      throw new InvalidArgument(route.version === ''
        ? `model '${route.model}' is not ready`
        : `model '${route.model}' version ${route.version} is not ready`);
    case 'model-stats':
      return replyJson(ex, statsJson(ctx, route.model, route.version));
    case 'all-stats':
      return replyJson(ex, statsJson(ctx, '', ''));
    case 'repo-index':
      checkRepositoryName(route.repository);
      return withBody(ctx, ex, head, (body) => {
        replyJson(ex, JSON.stringify(dp.repositoryIndex(decodeIndexBody(body))));
      });
    case 'repo-load':
      checkRepositoryName(route.repository);
      return withBody(ctx, ex, head, async (body) => {
        await dp.loadModel(route.model, decodeLoadBody(body));
        reply(ex, 200, undefined);
      });
    case 'repo-unload':
      checkRepositoryName(route.repository);
      return withBody(ctx, ex, head, async (body) => {
        await dp.unloadModel(route.model, decodeUnloadBody(body));
        reply(ex, 200, undefined);
      });
    case 'logging':
      if (method === 'get') return replyJson(ex, JSON.stringify(dp.logSettings()));
      return withBody(ctx, ex, head, (body) => {
        replyJson(ex, JSON.stringify(dp.updateLogSettings(decodeLogSettingsBody(body))));
      });
    case 'model-traffic': {
      // GET: policy, weights, windows, history. PUT/POST: replace the policy (400 naming the bad field).
      const get = dp.trafficPolicy?.bind(dp);
      const set = dp.setTrafficPolicy?.bind(dp);
      if (get === undefined || set === undefined) throw new Unsupported('traffic routing is not enabled on this server');
      if (method === 'get') return replyJson(ex, JSON.stringify(get(route.model)));
      return withBody(ctx, ex, head, (body) => {
        replyJson(ex, JSON.stringify(set(route.model, body.toString('utf8'))));
      });
    }
    case 'shared-memory':
      return handleSharedMemory(ctx, ex, route, head);
  }
}

/** Triton's system shared-memory routes; CUDA ones as a CPU-only Triton answers them. */
function handleSharedMemory(ctx: HttpContext, ex: Exchange, route: Extract<Route, { kind: 'shared-memory' }>, head: RequestHead): void {
  const shm = ctx.dp.sharedMemory;
  if (shm === undefined) throw new Unsupported('shared memory is not enabled on this server');
  const { region, op } = route;
  if (route.memory === 'system') {
    if (op === 'status') return replyJson(ex, JSON.stringify(shm.status(region)));
    if (op === 'unregister') { shm.unregister(region); return reply(ex, 200, undefined); }
    return withBody(ctx, ex, head, (body) => {
      const r = decodeShmRegisterBody(body);
      shm.register(region, r.key, r.offset, r.byteSize);
      reply(ex, 200, undefined);
    });
  }
  if (op === 'status') return replyJson(ex, JSON.stringify(shm.cudaStatus(region)));
  if (op === 'unregister') { shm.cudaUnregister(); return reply(ex, 200, undefined); }
  return withBody(ctx, ex, head, (body) => {
    shm.cudaGate();
    decodeCudaRegisterBody(body);
    shm.cudaRegister(region, true);
  });
}

/** Triton serves one repository namespace: naming one is refused (after the restriction and method checks). */
function checkRepositoryName(repository: string | undefined): void {
  if (repository !== undefined) throw new RepositoryNameUnsupported();
}

function statsJson(ctx: HttpContext, model: string, version: string): string {
  return '{"model_stats":' + JSON.stringify(ctx.dp.modelStatistics(model, version)) + '}';
}

/** Read (and decompress) the body, run `fn`, answer its errors. */
function withBody(ctx: HttpContext, ex: Exchange, head: RequestHead, fn: (body: Buffer) => void | Promise<void>): void {
  readBody(ex, head.contentLength, ctx, (raw) => {
    const run = async (): Promise<void> => {
      const body = head.contentEncoding === '' ? raw : await decodeContent(head.contentEncoding, raw, ctx.maxBodyBytes);
      if (ex.finished) return;
      if (body !== raw) holdDecoded(ex, ctx.bodyBudget, body);
      await fn(body);
    };
    run().catch((err: unknown) => replyError(ex, err, ctx.logger));
  });
}
