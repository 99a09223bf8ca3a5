/**
 * Command line -> frozen ServerOptions, with tritonserver's flag names and
 * defaults so existing launch scripts work, plus Osprey's own thread and size
 * knobs. Every bad option throws CliError with an exact message (tested).
 *
 * Forms accepted: `--flag value`, `--flag=value`; boolean flags also alone
 * (`--strict-readiness` = true) or with true/false/1/0/on/off.
 */
import { NO_TLS, type TlsFlags, tlsFlagProblem } from './tls.js';
import { RESTRICTED_CATEGORIES, type RestrictedCategory, type Restriction, type Restrictions, addRestriction } from './restricted.js';

/** `watch` is Osprey's: `poll` driven by file-system events, the poll kept as a safety net. */
export type ModelControlMode = 'none' | 'poll' | 'watch' | 'explicit';
/** tritonserver's `default` and `ISO8601` timestamps, plus JSON lines. */
export type LogFormat = 'default' | 'ISO8601' | 'json';

/** `--http-engine`: auto = net (node:net + llhttp; pipelined requests answered in order); node = node:http; uws = native uWebSockets.js (opt-in). */
export type HttpEngineChoice = 'auto' | 'net' | 'node' | 'uws';
/** `--grpc-engine`: net = Osprey's own HTTP/2 on node:net (src/frontends/grpc/net/); http2 = node:http2 (src/frontends/grpc/h2/); grpc-js = @grpc/grpc-js's server. */
export type GrpcEngineChoice = 'grpc-js' | 'http2' | 'net';

export interface ServerOptions {
  /** `--help`/`-h` was given: print usageText() and exit; other fields are defaults. */
  help: boolean;
  /** `--version` was given: print the version and exit; other fields are defaults. */
  version: boolean;
  /** Empty when none was given; main supplies its default. */
  modelRepositories: string[];
  httpPort: number;
  grpcPort: number;
  metricsPort: number;
  httpAddress: string;
  grpcAddress: string;
  grpcEngine: GrpcEngineChoice;
  metricsAddress: string;
  allowHttp: boolean;
  httpEngine: HttpEngineChoice;
  allowGrpc: boolean;
  allowMetrics: boolean;
  allowClientShm: boolean;
  modelControlMode: ModelControlMode;
  repositoryPollSecs: number;
  /**
   * `--repository-settle-ms`: in poll/watch modes, how long a new or changed version's
   * files must stay unchanged before it loads. Unset = the repository manager's default.
   */
  repositorySettleMs?: number;
  /** `--load-model` names; `*` means every model in the repository. */
  loadModels: string[];
  strictReadiness: boolean;
  exitTimeoutSecs: number;
  /**
   * `--shutdown-grace-secs`: after SIGTERM/SIGINT, report not ready but keep serving this
   * long (a Kubernetes endpoint keeps receiving traffic for a moment after the signal),
   * then stop accepting and drain for up to exitTimeoutSecs.
   */
  shutdownGraceSecs: number;
  logVerbose: number;
  logInfo: boolean;
  logWarning: boolean;
  logError: boolean;
  logFormat: LogFormat;
  /** `--cache-config local,size=<bytes>`; null = no response cache. */
  cache: { kind: 'local'; size: number } | null;
  /** Worker threads running ONNX Runtime sessions; 0 = auto. */
  workerThreads: number;
  /** ONNX Runtime intra-op threads per session; 0 = auto. */
  intraOpThreads: number;
  /** Intra-op threads of each CPU instance's solo session (runs that have the server to themselves); 0 = auto (the cores), 1 = none. */
  soloIntraOpThreads: number;
  /** Hot hand-off: how long an idle worker polls for the next request while the server is nearly idle (us); 0 = off. */
  workerSpinUs: number;
  /** Nice levels the worker threads run below the main thread (Linux); 0 = the same. */
  workerNice: number;
  /** Largest request accepted, after decompression: an HTTP body or a gRPC message. */
  maxRequestBytes: number;
  /** Most body bytes all HTTP requests in flight may hold together (503 above). */
  maxInflightRequestBytes: number;
  /** Per-client token bucket for inference requests: tokens a second (0 = off), bucket size (0 = the rate, at least 1). */
  clientRateLimit: number;
  clientRateBurst: number;
  /** HTTP header / gRPC metadata key (lower case) naming the client for the rate limit; '' = the peer address. */
  clientRateKey: string;
  /** `--log-file`: every log line goes there instead of stdout/stderr ('' = console). */
  logFile: string;
  /** `--exit-on-error`: exit when a model fails to load at start (Triton's default: true). */
  exitOnError: boolean;
  /** false with `--strict-model-config=true` or `--disable-auto-complete-config`: configs must be complete. */
  autoCompleteConfig: boolean;
  /** `--model-load-thread-count`: models loading at once. */
  modelLoadThreadCount: number;
  /** `--model-config-name`: read `<model>/configs/<name>.pbtxt` when it exists ('' = config.pbtxt). */
  modelConfigName: string;
  /** `--backend-config`: `default-max-batch-size` for auto-completed batchable models. */
  defaultMaxBatchSize: number;
  /** `--id`: the name in server metadata. */
  serverId: string;
  /** `--allow-cpu-metrics`: the nv_cpu_* gauges. */
  allowCpuMetrics: boolean;
  /** `--metrics-interval-ms`: how often the CPU gauges are sampled. */
  metricsIntervalMs: number;
  /** `--grpc-keepalive-time`/`-timeout` (ms) and `--grpc-keepalive-permit-without-calls`. */
  grpcKeepaliveTimeMs: number;
  grpcKeepaliveTimeoutMs: number;
  grpcKeepalivePermitWithoutCalls: boolean;
  /** tritonserver flags given that mean nothing here (accepted; the server warns once, naming them). */
  ignoredFlags: string[];
  /** Most output bytes one request may get back; checked on the worker before they cross threads. */
  maxResponseBytes: number;
  /** `--http-restricted-api`: category -> the header it requires. */
  httpRestrictedApi: Restrictions;
  /** `--grpc-restricted-protocol`: category -> the metadata key (after `triton-grpc-protocol-`) it requires. */
  grpcRestrictedProtocol: Restrictions;
  /** `--http-use-ssl` and friends: HTTPS on the HTTP port (files read at startup). */
  httpTls: TlsFlags;
  /** `--grpc-use-ssl` and friends (tritonserver's): TLS on the gRPC port. */
  grpcTls: TlsFlags;
}

export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

export const DEFAULT_OPTIONS: Readonly<ServerOptions> = Object.freeze({
  help: false,
  version: false,
  modelRepositories: [],
  httpPort: 8000,
  grpcPort: 8001,
  metricsPort: 8002,
  httpAddress: '0.0.0.0',
  grpcAddress: '0.0.0.0',
  // The http2 engine answers the same wire as grpc-js's server with less main-thread CPU per call (#15).
  grpcEngine: 'net',
  metricsAddress: '0.0.0.0',
  allowHttp: true,
  httpEngine: 'auto',
  allowGrpc: true,
  allowMetrics: true,
  // Triton's default since 2026: client shared memory off unless asked for.
  allowClientShm: false,
  modelControlMode: 'none',
  repositoryPollSecs: 15,
  loadModels: [],
  strictReadiness: true,
  exitTimeoutSecs: 30,
  shutdownGraceSecs: 0,
  logVerbose: 0,
  logInfo: true,
  logWarning: true,
  logError: true,
  logFormat: 'default',
  cache: null,
  workerThreads: 0,
  intraOpThreads: 0,
  soloIntraOpThreads: 0,
  workerSpinUs: 500,
  workerNice: 0,
  // Triton's --http-max-input-size default (64 MiB).
  maxRequestBytes: 64 * 1024 * 1024,
  maxInflightRequestBytes: 1024 * 1024 * 1024,
  clientRateLimit: 0,
  clientRateBurst: 0,
  clientRateKey: '',
  logFile: '',
  exitOnError: true,
  autoCompleteConfig: true,
  modelLoadThreadCount: 4,
  modelConfigName: '',
  defaultMaxBatchSize: 4,
  // tritonserver's --id default: clients that read the server metadata see the name they expect.
  serverId: 'triton',
  allowCpuMetrics: true,
  metricsIntervalMs: 2000,
  grpcKeepaliveTimeMs: 7200000,
  grpcKeepaliveTimeoutMs: 20000,
  grpcKeepalivePermitWithoutCalls: false,
  ignoredFlags: [],
  maxResponseBytes: 256 * 1024 * 1024,
  httpRestrictedApi: new Map(),
  grpcRestrictedProtocol: new Map(),
  httpTls: NO_TLS,
  grpcTls: NO_TLS,
} satisfies ServerOptions);

type Apply = (o: ServerOptions & { responseCacheBytes?: number }, value: string, flag: string) => void;

interface FlagSpec {
  flags: readonly string[];
  /** 'bool' flags may stand alone; 'value' flags need an argument. */
  arg: 'bool' | 'value';
  meta: string;
  help: string;
  apply: Apply;
}

function invalid(value: string, flag: string, expected: string): CliError {
  return new CliError(`invalid value '${value}' for ${flag}: ${expected}`);
}

const int = (key: keyof ServerOptions, min: number, max?: number): Apply => (o, v, flag) => {
  const expected = max !== undefined ? `expected an integer ${min}-${max}`
    : min === 0 ? 'expected a non-negative integer' : `expected an integer >= ${min}`;
  const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) throw invalid(v, flag, expected);
  (o as unknown as Record<string, unknown>)[key] = n;
};

const port = (key: keyof ServerOptions): Apply => int(key, 0, 65535);

function parseBool(v: string, flag: string): boolean {
  const s = v.toLowerCase();
  if (s === 'true' || s === '1' || s === 'on') return true;
  if (s === 'false' || s === '0' || s === 'off') return false;
  throw invalid(v, flag, 'expected true, false, on, off, 1 or 0');
}

const bool = (key: keyof ServerOptions): Apply => (o, v, flag) => {
  (o as unknown as Record<string, unknown>)[key] = parseBool(v, flag);
};

const text = (key: keyof ServerOptions, what: string): Apply => (o, v, flag) => {
  if (v === '') throw invalid(v, flag, `expected ${what}`);
  (o as unknown as Record<string, unknown>)[key] = v;
};

const oneOf = <T extends string>(key: keyof ServerOptions, values: readonly T[]): Apply => (o, v, flag) => {
  if (!(values as readonly string[]).includes(v)) {
    const list = values.length === 2 ? values.join(' or ') : `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
    throw invalid(v, flag, `expected ${list}`);
  }
  (o as unknown as Record<string, unknown>)[key] = v;
};

/** `local,size=<bytes>` (tritonserver's `<cache>,<key>=<value>`). */
const cacheConfig: Apply = (o, v, flag) => {
  const m = /^([^,]*),([^=]*)=(.*)$/.exec(v);
  if (!m) throw invalid(v, flag, 'expected local,size=<bytes>');
  const [, name, key, val] = m;
  if (name !== 'local') throw invalid(v, flag, "only the 'local' cache is supported");
  if (key !== 'size') throw invalid(v, flag, `unknown local cache setting '${key}'`);
  const size = /^[0-9]+$/.test(val!) ? Number(val) : NaN;
  if (!Number.isSafeInteger(size)) throw invalid(v, flag, 'size must be a non-negative integer');
  o.cache = { kind: 'local', size };
};

/**
 * `--backend-config [<backend>,]<key>=<value>`: Osprey has the global
 * `default-max-batch-size` and the onnxruntime backend's thread and graph settings
 * (those are per model in config.pbtxt `parameters`; here they set the server's
 * defaults). Other backends and keys are accepted and named in the warning line.
 */
const backendConfig: Apply = (o, v, flag) => {
  const m = /^(?:([^,=]+),)?([^,=]+)=(.*)$/.exec(v);
  if (!m) throw invalid(v, flag, 'expected [<backend>,]<setting>=<value>');
  const [, backend, key, val] = m;
  const n = /^[0-9]+$/.test(val!) ? Number(val) : NaN;
  const num = (): number => {
    if (!Number.isSafeInteger(n)) throw invalid(v, flag, `'${key}' must be a non-negative integer`);
    return n;
  };
  if (backend === undefined && key === 'default-max-batch-size') { o.defaultMaxBatchSize = num(); return; }
  if (backend === 'onnxruntime' && key === 'intra_op_thread_count') { o.intraOpThreads = num(); return; }
  o.ignoredFlags.push(`${flag} ${v}`);
};

/** Accepted for launch-script compatibility; checked like tritonserver checks it, then named in one warning line. */
const ignored = (check?: (v: string, flag: string) => void): Apply => (o, v, flag) => {
  check?.(v, flag);
  o.ignoredFlags.push(flag);
};

/** A value tritonserver parses as an integer; Osprey ignores it. */
const anyInt = (v: string, flag: string): void => {
  if (!/^-?[0-9]+$/.test(v)) throw invalid(v, flag, 'expected an integer');
};
const anyBool = (v: string, flag: string): void => { parseBool(v, flag); };

/** Sets one field of a port's TLS flags (copied: the defaults are frozen). */
const tls = (port: 'httpTls' | 'grpcTls', field: keyof TlsFlags): Apply => (o, v, flag) => {
  if (field !== 'useSsl' && field !== 'mutual' && v === '') throw invalid(v, flag, 'expected a PEM file path');
  o[port] = { ...o[port], [field]: field === 'useSsl' || field === 'mutual' ? parseBool(v, flag) : v };
};

/** The five TLS flags of one port, tritonserver's names for gRPC and the same for HTTP. */
function tlsSpecs(port: 'http' | 'grpc'): FlagSpec[] {
  const key = port === 'http' ? 'httpTls' : 'grpcTls';
  const what = port === 'http' ? 'HTTPS on the HTTP port' : 'TLS on the gRPC port';
  return [
    { flags: [`--${port}-use-ssl`], arg: 'bool', meta: '<bool>', help: `Serve ${what}; needs --${port}-server-cert and --${port}-server-key (default false).`, apply: tls(key, 'useSsl') },
    { flags: [`--${port}-server-cert`], arg: 'value', meta: '<pem file>', help: `Server certificate (chain) for ${what}.`, apply: tls(key, 'serverCert') },
    { flags: [`--${port}-server-key`], arg: 'value', meta: '<pem file>', help: `Server private key for ${what}.`, apply: tls(key, 'serverKey') },
    { flags: [`--${port}-root-cert`], arg: 'value', meta: '<pem file>', help: `CA certificate(s) that client certificates must chain to (mutual TLS).`, apply: tls(key, 'rootCert') },
    { flags: [`--${port}-use-ssl-mutual`], arg: 'bool', meta: '<bool>', help: `Mutual TLS: ${what}, and refuse clients without a certificate signed by --${port}-root-cert; overrides --${port}-use-ssl (default false).`, apply: tls(key, 'mutual') },
  ];
}

const SPECS: readonly FlagSpec[] = [
  { flags: ['--model-repository', '--model-store'], arg: 'value', meta: '<path>', help: 'Model repository (repeatable).',
    apply: (o, v, f) => { if (v === '') throw invalid(v, f, 'expected a path'); o.modelRepositories.push(v); } },
  { flags: ['--http-port'], arg: 'value', meta: '<port>', help: 'HTTP port; 0 = any free port (default 8000).', apply: port('httpPort') },
  { flags: ['--grpc-port'], arg: 'value', meta: '<port>', help: 'gRPC port (default 8001).', apply: port('grpcPort') },
  { flags: ['--metrics-port'], arg: 'value', meta: '<port>', help: 'Metrics port (default 8002).', apply: port('metricsPort') },
  { flags: ['--http-address'], arg: 'value', meta: '<addr>', help: 'HTTP bind address (default 0.0.0.0).', apply: text('httpAddress', 'an address') },
  { flags: ['--grpc-address'], arg: 'value', meta: '<addr>', help: 'gRPC bind address (default 0.0.0.0).', apply: text('grpcAddress', 'an address') },
  { flags: ['--grpc-engine'], arg: 'value', meta: 'net|http2|grpc-js', help: `gRPC engine: net = gRPC on Osprey's own HTTP/2 over node:net (the least main-thread CPU per call); http2 = the same calls on node:http2 (nghttp2); grpc-js = @grpc/grpc-js's server. All three give the same answers, limits and texts (default ${DEFAULT_OPTIONS.grpcEngine}).`,
    apply: oneOf('grpcEngine', ['grpc-js', 'http2', 'net'] as const) },
  { flags: ['--metrics-address'], arg: 'value', meta: '<addr>', help: 'Metrics bind address (default 0.0.0.0).', apply: text('metricsAddress', 'an address') },
  { flags: ['--allow-http'], arg: 'bool', meta: '<bool>', help: 'Serve HTTP (default true).', apply: bool('allowHttp') },
  { flags: ['--http-engine'], arg: 'value', meta: 'auto|net|node|uws', help: 'HTTP engine: auto = net = node:net sockets with Node\'s own llhttp parser, which answers pipelined requests in order; node = node:http (the same parser, more CPU per request); uws = native uWebSockets.js, but a request pipelined behind one still running closes the connection unanswered, so only for clients that never pipeline (e.g. behind a proxy); startup fails where no native build loads (default auto).',
    apply: oneOf('httpEngine', ['auto', 'net', 'node', 'uws'] as const) },
  { flags: ['--allow-grpc'], arg: 'bool', meta: '<bool>', help: 'Serve gRPC (default true).', apply: bool('allowGrpc') },
  { flags: ['--allow-metrics'], arg: 'bool', meta: '<bool>', help: 'Serve metrics (default true).', apply: bool('allowMetrics') },
  { flags: ['--allow-client-shm'], arg: 'bool', meta: '<bool>', help: 'Allow clients to register (and unregister) shared-memory regions (default false).', apply: bool('allowClientShm') },
  { flags: ['--strict-model-config'], arg: 'bool', meta: '<bool>', help: 'Deprecated tritonserver flag: true = no auto-complete (default false).',
    apply: (o, v, f) => { o.autoCompleteConfig = !parseBool(v, f); } },
  { flags: ['--disable-auto-complete-config'], arg: 'bool', meta: '', help: 'Configs must be complete: nothing is filled in from the ONNX model.',
    apply: (o, v, f) => { if (parseBool(v, f)) o.autoCompleteConfig = false; } },
  { flags: ['--exit-on-error'], arg: 'bool', meta: '<bool>', help: 'Exit (status 1) when a model fails to load at start (default true).', apply: bool('exitOnError') },
  { flags: ['--model-load-thread-count'], arg: 'value', meta: '<n>', help: 'Models loading at once (default 4).', apply: int('modelLoadThreadCount', 1) },
  { flags: ['--model-config-name'], arg: 'value', meta: '<name>', help: "Read <model>/configs/<name>.pbtxt where it exists instead of config.pbtxt.",
    apply: (o, v, f) => { if (!/^[A-Za-z0-9_.-]+$/.test(v) || v === '.' || v === '..') throw invalid(v, f, 'expected a file name without slashes'); o.modelConfigName = v; } },
  { flags: ['--backend-config'], arg: 'value', meta: '[<backend>,]<k>=<v>', help: 'default-max-batch-size=<n>, or onnxruntime,intra_op_thread_count=<n> (repeatable).', apply: backendConfig },
  { flags: ['--log-file'], arg: 'value', meta: '<path>', help: 'Write the log to this file instead of stdout/stderr.', apply: text('logFile', 'a path') },
  { flags: ['--id'], arg: 'value', meta: '<id>', help: 'Server name in the server metadata (default triton).', apply: text('serverId', 'an identifier') },
  { flags: ['--allow-cpu-metrics'], arg: 'bool', meta: '<bool>', help: 'Serve the nv_cpu_* gauges (default true).', apply: bool('allowCpuMetrics') },
  { flags: ['--metrics-interval-ms'], arg: 'value', meta: '<ms>', help: 'How often the CPU gauges are sampled (default 2000).',
    apply: (o, v, f) => { const n = Number(v); if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw invalid(v, f, 'expected a positive number'); o.metricsIntervalMs = n; } },
  { flags: ['--grpc-keepalive-time'], arg: 'value', meta: '<ms>', help: 'gRPC keepalive ping interval (default 7200000).', apply: int('grpcKeepaliveTimeMs', 1) },
  { flags: ['--grpc-keepalive-timeout'], arg: 'value', meta: '<ms>', help: 'gRPC keepalive ping timeout (default 20000).', apply: int('grpcKeepaliveTimeoutMs', 1) },
  { flags: ['--grpc-keepalive-permit-without-calls'], arg: 'bool', meta: '<bool>', help: 'Allow keepalive pings with no call in flight (default false).', apply: bool('grpcKeepalivePermitWithoutCalls') },
  { flags: ['--response-cache-byte-size'], arg: 'value', meta: '<bytes>', help: "Deprecated: the same as --cache-config local,size=<bytes>.",
    apply: (o, v, f) => { const n = /^[0-9]+$/.test(v) ? Number(v) : NaN; if (!Number.isSafeInteger(n)) throw invalid(v, f, 'expected a non-negative integer'); o.responseCacheBytes = n; } },
  // Flags with no effect on a CPU-only ONNX Runtime server without those front ends:
  // accepted (values checked) so launch scripts keep working, named in one warning line.
  ...([
    ['--http-thread-count', anyInt], ['--grpc-infer-allocation-pool-size', anyInt], ['--buffer-manager-thread-count', anyInt],
    ['--pinned-memory-pool-byte-size', anyInt], ['--cuda-memory-pool-byte-size', undefined], ['--allow-gpu-metrics', anyBool],
    ['--metrics-config', undefined], ['--trace-config', undefined], ['--rate-limit', undefined], ['--rate-limit-resource', undefined],
    ['--http-header-forward-pattern', undefined], ['--grpc-header-forward-pattern', undefined],
    ['--allow-sagemaker', anyBool], ['--allow-vertex-ai', anyBool],
  ] as const).map(([flag, check]): FlagSpec => ({
    flags: [flag], arg: check === anyBool ? 'bool' : 'value', meta: check === anyBool ? '<bool>' : '<value>',
    help: 'Accepted for tritonserver compatibility; no effect here (warned at start).', apply: ignored(check),
  })),
  { flags: ['--model-control-mode'], arg: 'value', meta: 'none|poll|watch|explicit', help: 'Model control mode (default none); watch = poll on file-system events.',
    apply: oneOf('modelControlMode', ['none', 'poll', 'watch', 'explicit'] as const) },
  { flags: ['--repository-poll-secs'], arg: 'value', meta: '<secs>', help: 'Poll interval in poll mode, safety-net rescan in watch mode (default 15).', apply: int('repositoryPollSecs', 1) },
  { flags: ['--repository-settle-ms'], arg: 'value', meta: '<ms>', help: 'Poll/watch: files must be unchanged this long before they load (default 1000).', apply: int('repositorySettleMs', 0) },
  { flags: ['--load-model'], arg: 'value', meta: '<name>', help: "Model to load at start in explicit mode (repeatable; '*' = all).",
    apply: (o, v, f) => { if (v === '') throw invalid(v, f, 'expected a model name'); o.loadModels.push(v); } },
  { flags: ['--strict-readiness'], arg: 'bool', meta: '<bool>', help: 'Ready only when every model is ready (default true).', apply: bool('strictReadiness') },
  { flags: ['--exit-timeout-secs'], arg: 'value', meta: '<secs>', help: 'After the grace period, how long in-flight requests may take to finish before exit (default 30).', apply: int('exitTimeoutSecs', 0) },
  { flags: ['--shutdown-grace-secs'], arg: 'value', meta: '<secs>', help: 'On SIGTERM/SIGINT report not ready at once but keep serving this long, then stop accepting (default 0; set it to the time a load balancer takes to drop the endpoint).', apply: int('shutdownGraceSecs', 0) },
  { flags: ['--log-verbose'], arg: 'value', meta: '<level>', help: 'Verbose log level; 0 = off (default 0).', apply: int('logVerbose', 0) },
  { flags: ['--log-info'], arg: 'bool', meta: '<bool>', help: 'Log info messages (default true).', apply: bool('logInfo') },
  { flags: ['--log-warning'], arg: 'bool', meta: '<bool>', help: 'Log warnings (default true).', apply: bool('logWarning') },
  { flags: ['--log-error'], arg: 'bool', meta: '<bool>', help: 'Log errors (default true).', apply: bool('logError') },
  { flags: ['--log-format'], arg: 'value', meta: 'default|ISO8601|json', help: "Log line layout: tritonserver's (default), with ISO8601 timestamps, or JSON lines.",
    apply: (o, v) => {
      // tritonserver's own text for this one.
      if (v !== 'default' && v !== 'ISO8601' && v !== 'json') throw new CliError('invalid argument for --log-format');
      o.logFormat = v;
    } },
  { flags: ['--cache-config'], arg: 'value', meta: 'local,size=<bytes>', help: 'Enable the response cache.', apply: cacheConfig },
  { flags: ['--worker-threads'], arg: 'value', meta: '<n>', help: 'Inference worker threads; 0 = auto (default 0).', apply: int('workerThreads', 0) },
  { flags: ['--intra-op-threads'], arg: 'value', meta: '<n>', help: 'ONNX Runtime intra-op threads per session; 0 = auto (default 0).', apply: int('intraOpThreads', 0) },
  { flags: ['--solo-intra-op-threads'], arg: 'value', meta: '<n>', help: 'Each CPU model instance (model file up to 128 MiB, no intra_op_thread_count of its own) also holds a session with this many intra-op threads, used while the server runs at concurrency 1 and its runs take over 300 us: lower latency at concurrency 1 for compute-heavy models; 0 = auto (the cores), 1 = off (default 0).', apply: int('soloIntraOpThreads', 0) },
  { flags: ['--worker-spin-us'], arg: 'value', meta: '<us>', help: 'While the server runs at concurrency 1, an idle worker polls this long for the next one instead of sleeping (lower latency at concurrency 1, costs CPU; a poll that loses its core to another thread stops, and nothing polls for ~256 ms, doubling up to ~2 s while that goes on); while it answers a burst (requests read at once into an idle server, such as a stream\'s messages), at most 300 us of it for the rest of the burst; 0 = off (default 500).', apply: int('workerSpinUs', 0) },
  { flags: ['--worker-nice'], arg: 'value', meta: '<n>', help: 'Run the worker threads (ONNX Runtime) this many nice levels below the main thread, which reads requests and writes answers, so that a model run on every core does not keep it waiting; Linux only (elsewhere ignored); 0 = the same priority (default 0).', apply: int('workerNice', 0, 19) },
  { flags: ['--max-request-bytes', '--http-max-input-size'], arg: 'value', meta: '<bytes>', help: 'Largest request accepted, counted after decompression: an HTTP body (larger: 413) or a received gRPC message (larger: RESOURCE_EXHAUSTED) (default 67108864).', apply: int('maxRequestBytes', 1) },
  { flags: ['--http-restricted-api'], arg: 'value', meta: '<category>[,<category>...]:<header>=<value>', help: `Answer the categories' HTTP calls only with that header and value (repeatable; categories: ${RESTRICTED_CATEGORIES.join(', ')}). Calls that change state (model load/unload, traffic changes, logging updates, shared-memory register/unregister) are accepted only from loopback until their category names a key.`,
    apply: (o, v, f) => addRestriction(o.httpRestrictedApi as Map<RestrictedCategory, Restriction>, f, v) },
  { flags: ['--grpc-restricted-protocol'], arg: 'value', meta: '<category>[,<category>...]:<key>=<value>', help: "The same for gRPC: metadata 'triton-grpc-protocol-<key>' must carry the value.",
    apply: (o, v, f) => addRestriction(o.grpcRestrictedProtocol as Map<RestrictedCategory, Restriction>, f, v) },
  ...tlsSpecs('http'),
  ...tlsSpecs('grpc'),
  { flags: ['--max-inflight-request-bytes'], arg: 'value', meta: '<bytes>', help: 'Most request bytes all requests in flight may hold together, HTTP and gRPC: HTTP bodies as their bytes arrive (not at their declared size) and once decompressed, gRPC messages as they arrive and inflate (and inference messages until answered); over it: HTTP 503 and the connection closed, gRPC RESOURCE_EXHAUSTED (default 1073741824).', apply: int('maxInflightRequestBytes', 1) },
  { flags: ['--client-rate-limit'], arg: 'value', meta: '<per second>', help: 'Inference requests a second each client may send (token bucket per client; HTTP 429 with Retry-After, gRPC RESOURCE_EXHAUSTED; counted in osprey_rate_limited_total); 0 = no limit (default 0).',
    apply: (o, v, f) => { const n = Number(v); if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw invalid(v, f, 'expected a non-negative number'); o.clientRateLimit = n; } },
  { flags: ['--client-rate-burst'], arg: 'value', meta: '<n>', help: 'Requests a client may send at once after a quiet spell (bucket size); 0 = the rate, at least 1 (default 0).', apply: int('clientRateBurst', 0) },
  { flags: ['--client-rate-key'], arg: 'value', meta: '<header>', help: 'HTTP header / gRPC metadata key that names the client for --client-rate-limit (e.g. a restricted-API key header set by a trusted proxy); requests without it, or with no key set, are limited per peer address.',
    apply: (o, v, f) => { if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(v)) throw invalid(v, f, 'expected a header name'); o.clientRateKey = v.toLowerCase(); } },
  { flags: ['--max-response-bytes'], arg: 'value', meta: '<bytes>', help: "Most output bytes one request may get back, checked on the worker before they reach the front ends; larger: 400 / RESOURCE_EXHAUSTED, the server and other requests unaffected (default 268435456).", apply: int('maxResponseBytes', 1) },
];

const BY_FLAG = new Map(SPECS.flatMap((s) => s.flags.map((f) => [f, s] as const)));

/** Parses argv (without node and script). Throws CliError. */
export function parseArgs(argv: readonly string[]): Readonly<ServerOptions> {
  const o: ServerOptions & { responseCacheBytes?: number } = {
    ...DEFAULT_OPTIONS, modelRepositories: [], loadModels: [], ignoredFlags: [], httpRestrictedApi: new Map(), grpcRestrictedProtocol: new Map(),
  };
  if (argv.includes('--help') || argv.includes('-h')) return Object.freeze({ ...o, help: true });
  if (argv.includes('--version')) return Object.freeze({ ...o, version: true });

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) throw new CliError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const spec = BY_FLAG.get(flag);
    if (!spec) throw new CliError(`unknown option '${flag}'`);
    let value: string;
    if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) {
      value = argv[++i]!;
    } else if (spec.arg === 'bool') {
      value = 'true';
    } else {
      throw new CliError(`missing value for ${flag}`);
    }
    spec.apply(o, value, flag);
  }
  if (o.responseCacheBytes !== undefined) {
    if (o.cache !== null) throw new CliError('--response-cache-byte-size and --cache-config cannot both be given');
    o.cache = { kind: 'local', size: o.responseCacheBytes };
  }
  delete o.responseCacheBytes;
  return checkAndFreeze(o);
}

/**
 * Options given in code (the package's `startServer`): the defaults completed by
 * `given`, checked across fields as flags are, and frozen. Throws CliError.
 */
export function resolveOptions(given: Partial<ServerOptions>): Readonly<ServerOptions> {
  return checkAndFreeze({
    ...DEFAULT_OPTIONS,
    ...given,
    modelRepositories: [...(given.modelRepositories ?? [])],
    loadModels: [...(given.loadModels ?? [])],
    ignoredFlags: [...(given.ignoredFlags ?? [])],
    cache: given.cache ? { ...given.cache } : null,
    httpTls: { ...(given.httpTls ?? NO_TLS) },
    grpcTls: { ...(given.grpcTls ?? NO_TLS) },
  });
}

function checkAndFreeze(o: ServerOptions): Readonly<ServerOptions> {
  if (o.loadModels.length > 0 && o.modelControlMode !== 'explicit') {
    throw new CliError('--load-model requires --model-control-mode=explicit');
  }
  checkPorts(o);
  for (const [port, flags] of [['http', o.httpTls], ['grpc', o.grpcTls]] as const) {
    const problem = tlsFlagProblem(port, flags);
    if (problem !== null) throw new CliError(problem);
  }
  Object.freeze(o.httpTls);
  Object.freeze(o.grpcTls);
  Object.freeze(o.modelRepositories);
  Object.freeze(o.loadModels);
  Object.freeze(o.ignoredFlags);
  if (o.cache) Object.freeze(o.cache);
  return Object.freeze(o);
}

/** Two enabled endpoints on one fixed port would fail at bind time; say so now. */
function checkPorts(o: ServerOptions): void {
  const used: [string, number, boolean][] = [
    ['--http-port', o.httpPort, o.allowHttp],
    ['--grpc-port', o.grpcPort, o.allowGrpc],
    ['--metrics-port', o.metricsPort, o.allowMetrics],
  ];
  const on = used.filter(([, p, enabled]) => enabled && p !== 0);
  for (let a = 0; a < on.length; a++) {
    for (let b = a + 1; b < on.length; b++) {
      if (on[a]![1] === on[b]![1]) {
        throw new CliError(`${on[a]![0]} and ${on[b]![0]} are both ${on[a]![1]}`);
      }
    }
  }
}

export function usageText(): string {
  const rows = SPECS.map((s) => [`  ${s.flags.join(', ')} ${s.meta}`, s.help] as const);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return [
    'Usage: osprey [options]',
    '',
    'Options:',
    ...rows.map(([l, h]) => l.padEnd(width) + h),
    `${'  -h, --help'.padEnd(width)}Print this help and exit.`,
    `${'  --version'.padEnd(width)}Print the version and exit.`,
    '',
  ].join('\n');
}
