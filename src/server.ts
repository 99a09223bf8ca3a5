/**
 * Composition root: builds the executor (worker threads), registry, repository manager, data
 * plane and front ends from validated options, and tears them down in order.
 * Nothing imports this but main.ts and the tests.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DestinationStream, Logger } from 'pino';
import type { ServerOptions } from './config/cli.js';
import { loadTls } from './config/tls.js';
import { ServingDataPlane } from './dataplane/dataplane.js';
import { runShadow } from './dataplane/shadow.js';
import { ResponseCache } from './dataplane/response-cache.js';
import { Executor } from './executor/executor.js';
import { threadBudget } from './executor/budget.js';
import { AccessControl } from './frontends/access.js';
import { Admission, registerAdmissionMetrics } from './frontends/admission.js';
import { RequestBytesBudget } from './frontends/request-bytes.js';
import { RateLimiter } from './frontends/rate-limit.js';
import { startGrpcServer } from './frontends/grpc/server.js';
import { selectHttpEngine } from './frontends/http/engines/select.js';
import { type HttpServer, startHttpServer } from './frontends/http/server.js';
import { LogControl } from './obs/logger.js';
import { startMetricsServer } from './obs/metrics-server.js';
import { Observability } from './obs/observer.js';
import type { ModelVersion } from './registry/model-version.js';
import { ModelRegistry } from './registry/registry.js';
import { RepositoryManager } from './control/manager.js';
import { checkRepositoryRoots } from './repository/scan.js';
import { registerTrafficMetrics } from './routing/metrics.js';
import { TrafficRouter } from './routing/router.js';
import { SharedMemoryManager } from './shm/regions.js';

/** The model repository shipped with the package: served when none is named. */
export const BUNDLED_REPOSITORY = fileURLToPath(new URL('../../model-repository/', import.meta.url));

export const PACKAGE_VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

/**
 * NVIDIA GPUs this process can use: /dev/nvidiaN devices, limited by
 * CUDA_VISIBLE_DEVICES; OSPREY_GPUS=0 forces CPU. The CUDA provider only exists in
 * an onnxruntime-node installed with `onnxruntime-node-install=cuda12` (Dockerfile.gpu).
 */
function visibleGpus(): number {
  if (process.env.OSPREY_GPUS !== undefined) return Math.max(0, Number(process.env.OSPREY_GPUS) || 0);
  let devices = 0;
  try {
    devices = readdirSync('/dev').filter((n) => /^nvidia[0-9]+$/.test(n)).length;
  } catch {
    return 0;
  }
  const visible = process.env.CUDA_VISIBLE_DEVICES;
  if (visible === undefined) return devices;
  return Math.min(devices, visible.split(',').filter((s) => s.trim() !== '' && s.trim() !== '-1').length);
}

interface Listener { port: number; close(): Promise<void> }

export interface RunningServer {
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly dataPlane: ServingDataPlane;
  readonly registry: ModelRegistry;
  readonly manager: RepositoryManager;
  readonly executor: Executor;
  readonly logger: Logger;
  /** Traffic policies per model: routing, shadows, guardrails (src/routing/). */
  readonly traffic: TrafficRouter<ModelVersion>;
  /** Shutdown grace begins: report not ready, keep serving, HTTP answers close their connections (see --shutdown-grace-secs). */
  drain(): void;
  /** Stop taking requests, finish in-flight ones, unload, stop threads. */
  shutdown(): Promise<void>;
}

/**
 * Throws StartupError (before any thread or port is taken) for what the operator can
 * fix: a model repository that is missing or unreadable, `--http-engine uws` where no
 * native uWebSockets.js loads.
 */
export async function startServer(opts: Readonly<ServerOptions>, logDestination?: DestinationStream): Promise<RunningServer> {
  checkRepositoryRoots(opts.modelRepositories);
  // Chosen before anything starts, so an engine that cannot load costs no cleanup.
  const httpEngine = opts.allowHttp ? selectHttpEngine(opts.httpEngine, undefined, opts.httpTls.mutual) : undefined;
  // PEM files read and tried once, before any thread or port is taken.
  const httpTls = opts.allowHttp ? loadTls('http', opts.httpTls) : undefined;
  const grpcTls = opts.allowGrpc ? loadTls('grpc', opts.grpcTls) : undefined;
  const logs = new LogControl({
    log_file: opts.logFile, log_info: opts.logInfo, log_warning: opts.logWarning, log_error: opts.logError,
    log_verbose_level: opts.logVerbose, log_format: opts.logFormat,
  }, logDestination);
  const logger = logs.logger;
  if (opts.ignoredFlags.length > 0) {
    logger.warn(`ignoring tritonserver flags with no effect on this CPU-only ONNX Runtime server: ${opts.ignoredFlags.join(', ')}`);
  }
  if (opts.workerNice > 0 && process.platform !== 'linux') {
    logger.warn(`--worker-nice has no effect here: per-thread priority is Linux-only (this is ${process.platform})`);
  }
  const budget = threadBudget(opts.workerThreads, opts.intraOpThreads, opts.soloIntraOpThreads);
  const executor = new Executor(budget.workers, { maxWorkers: budget.maxWorkers, spinUs: opts.workerSpinUs, nice: opts.workerNice, maxResponseBytes: opts.maxResponseBytes });
  const gpuCount = visibleGpus();
  // Metric series and drift windows are bound per version through the registry's hooks.
  const obs = new Observability({
    logs, metrics: opts.allowMetrics, modelStates: () => manager.index(false),
    cpu: opts.allowCpuMetrics ? { intervalMs: opts.metricsIntervalMs } : false,
  });
  const registry = new ModelRegistry({
    executor, intraOpThreads: budget.intraOpThreads, soloIntraOpThreads: budget.soloIntraOpThreads, gpuCount, logger,
    configPolicy: Object.freeze({ configName: opts.modelConfigName, autoComplete: opts.autoCompleteConfig, defaultMaxBatchSize: opts.defaultMaxBatchSize }),
    loadThreads: opts.modelLoadThreadCount,
    // A policy in traffic.json may name the version: it is read now, in force before requests see it.
    onVersionReady: (v) => { obs.versionReady(v); manager.versionReady(v.name); },
    onVersionRetired: (v) => { obs.versionRetired(v); traffic.versionRetired(v); },
    onLoadFailed: (model, version) => obs.metrics?.loadFailed(model, version),
  });
  const traffic = new TrafficRouter<ModelVersion>({ registry, logger, shadowExecutor: runShadow });
  if (obs.metrics !== undefined) registerTrafficMetrics(obs.metrics.registry, traffic);
  const manager = new RepositoryManager({
    repositories: opts.modelRepositories, mode: opts.modelControlMode, loadModels: opts.loadModels,
    pollSecs: opts.repositoryPollSecs, settleMs: opts.repositorySettleMs, configName: opts.modelConfigName, registry, logger,
    // The one repository watcher reads each model's traffic.json (every second, and as versions load).
    onPolicyFile: (model, text) => traffic.policyFile(model, text),
  });
  const cache = opts.cache !== null ? new ResponseCache(opts.cache.size) : undefined;
  const sharedMemory = new SharedMemoryManager({ allowClientShm: opts.allowClientShm });
  if (SharedMemoryManager.unavailableReason !== '') logger.warn(`system shared memory is unavailable: ${SharedMemoryManager.unavailableReason}`);
  const dataPlane = new ServingDataPlane({ registry, manager, logs, strictReadiness: opts.strictReadiness, name: opts.serverId, version: PACKAGE_VERSION, cache, observer: obs, traffic, sharedMemory });
  logger.info({ workers: budget.workers, intraOpThreads: budget.intraOpThreads, soloIntraOpThreads: budget.soloIntraOpThreads }, 'worker pool started');
  await manager.start();

  const access = new AccessControl({ http: opts.httpRestrictedApi, grpc: opts.grpcRestrictedProtocol, audit: logger });
  const limiter = opts.clientRateLimit > 0
    ? new RateLimiter({ rate: opts.clientRateLimit, burst: opts.clientRateBurst > 0 ? opts.clientRateBurst : Math.max(1, Math.ceil(opts.clientRateLimit)), keyHeader: opts.clientRateKey })
    : undefined;
  if (limiter !== undefined && obs.metrics !== undefined) registerAdmissionMetrics(obs.metrics.registry, limiter);
  const admission = new Admission(dataPlane, limiter);
  // One bound on the request bytes held by all requests in flight, HTTP and gRPC together.
  const requestBytes = new RequestBytesBudget(opts.maxInflightRequestBytes);
  const listeners: Listener[] = [];
  let http: HttpServer | undefined;
  let grpc: Listener | undefined;
  let metrics: Listener | undefined;
  try {
    if (opts.allowHttp) {
      http = await startHttpServer(dataPlane, { host: opts.httpAddress, port: opts.httpPort, maxBodyBytes: opts.maxRequestBytes, requestBytes, admission, engine: httpEngine, logger, access, tls: httpTls });
      listeners.push(http);
    }
    if (opts.allowGrpc) {
      grpc = await startGrpcServer(dataPlane, {
        engine: opts.grpcEngine, host: opts.grpcAddress, port: opts.grpcPort, logger, maxReceiveBytes: opts.maxRequestBytes, requestBytes, access, admission, tls: grpcTls,
        keepalive: { timeMs: opts.grpcKeepaliveTimeMs, timeoutMs: opts.grpcKeepaliveTimeoutMs, permitWithoutCalls: opts.grpcKeepalivePermitWithoutCalls },
      });
      listeners.push(grpc);
    }
    if (obs.metrics !== undefined) {
      metrics = await startMetricsServer(obs.metrics, { host: opts.metricsAddress, port: opts.metricsPort, logger });
      listeners.push(metrics);
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await traffic.stop();
    await manager.stop();
    await registry.close();
    await executor.close();
    throw err;
  }
  if (http !== undefined) {
    const { name, description, note } = http.engine;
    logger.info({ httpEngine: name }, note === '' ? `HTTP served by ${description}` : `HTTP served by ${description}: ${note}`);
  }
  const scheme = (t: { mutual: boolean } | undefined): string => (t === undefined ? 'plain' : t.mutual ? 'mutual-tls' : 'tls');
  logger.info({ http: http?.port, grpc: grpc?.port, metrics: metrics?.port, httpEngine: http?.engine.name, grpcEngine: grpc === undefined ? undefined : opts.grpcEngine, httpTls: scheme(httpTls), grpcTls: scheme(grpcTls) }, 'osprey is serving');

  let stopping: Promise<void> | undefined;
  return {
    httpPort: http?.port ?? -1,
    grpcPort: grpc?.port ?? -1,
    metricsPort: metrics?.port ?? -1,
    dataPlane, registry, manager, executor, logger, traffic,
    drain() {
      dataPlane.drain();
      http?.drain();
    },
    shutdown() {
      stopping ??= (async () => {
        dataPlane.stopAccepting();
        await traffic.stop();
        await manager.stop();
        // Front ends answer what they hold; the registry drains every batcher.
        await Promise.all([...listeners.map((l) => l.close()), registry.close()]);
        sharedMemory.close();
        await executor.close();
        logger.info('osprey stopped');
        logger.flush?.();
      })();
      return stopping;
    },
  };
}
