/**
 * The gRPC front end: inference.GRPCInferenceService, grpc.health.v1.Health,
 * osprey.admin.TrafficAdmin and server reflection over one DataPlane, served by one
 * of three engines (--grpc-engine): net/ (Osprey's own HTTP/2 on node:net, the
 * default), h2/ on node:http2, or grpc-js's server; net and http2 share h2/'s call layer. Handlers live in service.ts, the same
 * for both; the ModelInfer codec in src/codec/grpc-wire-*.ts.
 */
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { lookup } from 'node:dns/promises';
import { constants as h2, type Http2Session } from 'node:http2';
import { deserializeInferRequest } from '../../codec/grpc-wire-decode.js';
import { encodeModelInferResponse, encodeModelStreamInferResponse } from '../../codec/grpc-wire-encode.js';
import type { TlsMaterial } from '../../config/tls.js';
import { StartupError } from '../../errors/startup.js';
import type { DataPlane } from '../../dataplane/api.js';
import { HEALTH_SERVICE, INFERENCE_SERVICE, TRAFFIC_ADMIN_SERVICE, loadPackageDefinition } from './proto.js';
import type { AccessControl } from '../access.js';
import type { Admission } from '../admission.js';
import type { RequestBytesBudget } from '../request-bytes.js';
import { sized } from './inflight.js';
import { receiveBoundInterceptor } from './receive-bound.js';
import { guardService } from './guard.js';
import { type DirectUnaryHandler, directUnary } from './direct-unary.js';
import { type GrpcLogger, healthService, inferenceService, trafficAdminService } from './service.js';
import { H2GrpcServer } from './h2/server.js';

export type { GrpcLogger } from './service.js';

/** `--grpc-engine`: grpc-js's server, gRPC on node:http2 directly (h2/), or on Osprey's own HTTP/2 (net/). */
export type GrpcEngine = 'grpc-js' | 'http2' | 'net';

export interface GrpcServerOptions {
  /** Which server speaks gRPC (default grpc-js). */
  engine?: GrpcEngine;
  host: string;
  /** 0 picks an ephemeral port; the bound one is returned. */
  port: number;
  /** Unexpected (INTERNAL) errors are logged here once. Defaults to console.error. */
  logger?: GrpcLogger;
  /** How long close() lets in-flight calls finish before cutting them off (default 5000). */
  shutdownTimeoutMs?: number;
  /** tritonserver's --grpc-keepalive-time/-timeout (ms) and -permit-without-calls. */
  keepalive?: { timeMs: number; timeoutMs: number; permitWithoutCalls: boolean };
  /**
   * Largest received message, counted after decompression (the HTTP body limit,
   * --max-request-bytes); larger ones get RESOURCE_EXHAUSTED. grpc-js stops
   * inflating a compressed message as soon as it passes this.
   */
  maxReceiveBytes: number;
  /** Restricted protocols and the loopback-only default for admin calls (none: all open). */
  access?: AccessControl;
  /** Serve TLS (loadTls); plaintext h2c when absent. */
  tls?: TlsMaterial;
  /** Rate limits and early refusals of inference requests; none: every request is decoded. */
  admission?: Admission;
  /**
   * The bound on request bytes held by all requests in flight, shared with HTTP
   * (--max-inflight-request-bytes): received inference messages count in it until
   * answered. None: unbounded across calls.
   */
  requestBytes?: RequestBytesBudget;
}

export interface GrpcServerHandle {
  /** The port actually bound. */
  port: number;
  /** Stop taking calls, let in-flight ones finish, force-close after the timeout. */
  close(): Promise<void>;
}

const defaultLogger: GrpcLogger = {
  error(obj, msg) { console.error(msg ?? 'grpc error', obj); },
};

/**
 * Triton clients set both message limits to INT32_MAX on their side; the server
 * sends anything (responses are bounded by --max-response-bytes) and bounds what
 * it receives by the request limit: unbounded, one small gzip frame inflated to
 * gigabytes.
 */
const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_send_message_length': -1,
  // Channelz bookkeeping (per-call counters and traces) costs main-thread time on
  // every call, and nothing here serves the channelz service.
  'grpc.enable_channelz': 0,
};

/**
 * The service definition from proto-loader, with ModelInfer and ModelStreamInfer
 * (de)serialized by the hand-written codec in src/codec/grpc-wire-{decode,encode}.ts:
 * the hot path. Both take requests through the same deserializer, which never throws
 * (a malformed message reaches the handler, which answers it: see grpc-wire-decode.ts).
 * Every other method keeps proto-loader's protobufjs codec.
 */
function withFastInferCodec(service: ServiceDefinition): ServiceDefinition {
  return {
    ...service,
    ModelInfer: {
      ...service['ModelInfer']!,
      requestDeserialize: sized(deserializeInferRequest),
      responseSerialize: encodeModelInferResponse as (value: unknown) => Buffer,
    },
    ModelStreamInfer: {
      ...service['ModelStreamInfer']!,
      requestDeserialize: sized(deserializeInferRequest),
      responseSerialize: encodeModelStreamInferResponse as (value: unknown) => Buffer,
    },
  };
}

function credentials(tls: TlsMaterial | undefined): grpc.ServerCredentials {
  if (tls === undefined) return grpc.ServerCredentials.createInsecure();
  // checkClientCertificate: the handshake fails unless the client presents a
  // certificate that chains to rootCert (mutual TLS).
  return grpc.ServerCredentials.createSsl(tls.mutual ? tls.rootCert ?? null : null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.mutual);
}

function address(host: string, port: number): string {
  // Bare IPv6 literals need brackets in a gRPC target.
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${h}:${port}`;
}

/** What both engines offer: grpc-js's Server.addService. */
interface ServiceHost {
  addService(service: ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void;
}

/** Add every service (the same handlers on either engine); ModelInfer's handler is returned for grpc-js's direct path. */
function addServices(host: ServiceHost, dp: DataPlane, opts: GrpcServerOptions, log: GrpcLogger): grpc.UntypedServiceImplementation {
  const definition = loadPackageDefinition();
  const guard = (impl: grpc.UntypedServiceImplementation, name: string) => (opts.access === undefined ? impl : guardService(impl, opts.access, name));
  const inference = guard(inferenceService(dp, log, opts.admission, opts.requestBytes), INFERENCE_SERVICE);
  host.addService(withFastInferCodec(definition[INFERENCE_SERVICE] as ServiceDefinition), inference);
  host.addService(definition[HEALTH_SERVICE] as ServiceDefinition, guard(healthService(dp), HEALTH_SERVICE));
  host.addService(definition[TRAFFIC_ADMIN_SERVICE] as ServiceDefinition, guard(trafficAdminService(dp, log), TRAFFIC_ADMIN_SERVICE));
  // Server reflection (v1 and v1alpha), so `grpcurl list` / `describe` work without the .proto
  // files. It only calls addService on what it is given.
  new ReflectionService(definition).addToServer(host as grpc.Server);
  return inference;
}

/**
 * A port in use or an address that does not resolve: the operator's to fix, one line
 * (main.ts), the same text on both engines (the system error code, which grpc-js only
 * names inside its own message).
 */
function cannotListen(opts: GrpcServerOptions, err: unknown): StartupError {
  const text = err instanceof Error ? err.message : String(err);
  const code = (err as NodeJS.ErrnoException).code ?? /\b(E[A-Z]{3,})\b/.exec(text)?.[1];
  return new StartupError(`gRPC cannot listen on ${address(opts.host, opts.port)} (--grpc-address, --grpc-port): ${code ?? text}`);
}

/** Resolve the host first, so that a name that does not resolve fails alike on both engines. */
async function checkResolves(opts: GrpcServerOptions): Promise<void> {
  await lookup(bareHost(opts.host)).catch((err: unknown) => { throw cannotListen(opts, err); });
}

/** The host without the brackets an IPv6 literal may come in (`address` adds them for grpc-js). */
function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * grpc-js 1.14's forceShutdown() destroys only the sessions channelz tracks, and channelz
 * is off here (SERVER_OPTIONS): the sessions it keeps per listening server are cut here
 * (its `http2Servers` map; nothing happens where a grpc-js has no such map).
 */
function cutSessions(server: grpc.Server): void {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) return;
  for (const info of servers.values() as Iterable<{ sessions?: unknown }>) {
    if (!(info.sessions instanceof Set)) continue;
    for (const s of info.sessions as Set<Http2Session>) s.destroy(undefined, h2.NGHTTP2_CANCEL);
  }
}

async function startH2(dp: DataPlane, opts: GrpcServerOptions, log: GrpcLogger, shutdownTimeoutMs: number): Promise<GrpcServerHandle> {
  const server = new H2GrpcServer({
    maxReceiveBytes: opts.maxReceiveBytes, budget: opts.requestBytes, tls: opts.tls, transport: opts.engine === 'net' ? 'net' : 'http2',
    ...(opts.keepalive === undefined ? {} : { keepalive: { timeMs: opts.keepalive.timeMs, timeoutMs: opts.keepalive.timeoutMs } }),
  });
  addServices(server, dp, opts, log);
  const port = await server.listen(bareHost(opts.host), opts.port).catch((err: unknown) => { throw cannotListen(opts, err); });
  let closing: Promise<void> | undefined;
  return { port, close: () => (closing ??= server.close(shutdownTimeoutMs)) };
}

export async function startGrpcServer(dp: DataPlane, opts: GrpcServerOptions): Promise<GrpcServerHandle> {
  const log = opts.logger ?? defaultLogger;
  const shutdownTimeoutMs = opts.shutdownTimeoutMs ?? 5000;
  await checkResolves(opts);
  if (opts.engine === 'http2' || opts.engine === 'net') return startH2(dp, opts, log, shutdownTimeoutMs);
  const k = opts.keepalive;
  // ModelInfer, the hot path, is answered from grpc-js's call object directly (direct-unary.ts):
  // the interceptor is built before the services are added, so it looks the handler up late.
  let modelInfer: DirectUnaryHandler<unknown, unknown> | undefined;
  // grpc-js applies interceptors in order, each to the call the one before returned: the
  // receive bound needs grpc-js's own call object (it replaces members of it), so it
  // comes first; the direct ModelInfer answers on top of that call.
  const interceptors = [
    // What grpc-js holds before a handler sees it (arriving and inflating messages) counts too.
    ...(opts.requestBytes === undefined ? [] : [receiveBoundInterceptor(opts.requestBytes, opts.maxReceiveBytes,
      () => log.error({}, 'grpc-js internals changed: received gRPC messages are bounded one by one only, not by --max-inflight-request-bytes until a handler takes them'))]),
    directUnary(`/${INFERENCE_SERVICE}/ModelInfer`, (call, callback) => modelInfer!(call, callback)),
  ];
  const server = new grpc.Server({
    ...SERVER_OPTIONS,
    interceptors,
    'grpc.max_receive_message_length': opts.maxReceiveBytes,
    ...(k === undefined ? {} : {
      'grpc.keepalive_time_ms': k.timeMs,
      'grpc.keepalive_timeout_ms': k.timeoutMs,
      'grpc.keepalive_permit_without_calls': k.permitWithoutCalls ? 1 : 0,
    }),
  });
  modelInfer = addServices(server, dp, opts, log)['ModelInfer'] as unknown as DirectUnaryHandler<unknown, unknown>;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address(opts.host, opts.port), credentials(opts.tls), (err, bound) => {
      if (err) reject(cannotListen(opts, err));
      else resolve(bound);
    });
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        cutSessions(server);
        server.forceShutdown();
        resolve();
      }, shutdownTimeoutMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return closing;
  };

  return { port, close };
}
