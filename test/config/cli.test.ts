import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CliError, DEFAULT_OPTIONS, parseArgs, usageText, type ServerOptions } from '../../src/config/cli.js';
import { RestrictionFlagError } from '../../src/config/restricted.js';

function rejects(argv: string[], message: string): void {
  assert.throws(() => parseArgs(argv), (err: unknown) => {
    assert.ok(err instanceof CliError);
    assert.equal(err.message, message);
    return true;
  });
}

test('no flags: DEFAULT_OPTIONS, the one table of defaults', () => {
  assert.deepEqual(parseArgs([]), { ...DEFAULT_OPTIONS });
});

test("the defaults tritonserver has are tritonserver's values", () => {
  // Osprey's own options (engines, threads, limits of its own) are owned by DEFAULT_OPTIONS alone.
  const triton: Partial<ServerOptions> = {
    httpPort: 8000, grpcPort: 8001, metricsPort: 8002,
    httpAddress: '0.0.0.0', grpcAddress: '0.0.0.0', metricsAddress: '0.0.0.0',
    allowHttp: true, allowGrpc: true, allowMetrics: true, allowClientShm: false, allowCpuMetrics: true,
    modelControlMode: 'none', repositoryPollSecs: 15, strictReadiness: true, exitTimeoutSecs: 30, exitOnError: true,
    logVerbose: 0, logInfo: true, logWarning: true, logError: true, logFormat: 'default', logFile: '',
    maxRequestBytes: 64 * 1024 * 1024, autoCompleteConfig: true, modelLoadThreadCount: 4, modelConfigName: '',
    defaultMaxBatchSize: 4, metricsIntervalMs: 2000, serverId: 'triton',
    grpcKeepaliveTimeMs: 7_200_000, grpcKeepaliveTimeoutMs: 20_000, grpcKeepalivePermitWithoutCalls: false,
  };
  for (const [key, value] of Object.entries(triton)) assert.deepEqual(DEFAULT_OPTIONS[key as keyof ServerOptions], value, key);
});

test('every flag', () => {
  const o = parseArgs([
    '--model-repository', '/a', '--model-repository=/b', '--model-store', '/c',
    '--http-port', '9000', '--grpc-port=9001', '--metrics-port', '0',
    '--http-address', '127.0.0.1', '--grpc-address=::1', '--metrics-address', 'localhost',
    '--allow-http', 'false', '--allow-grpc=0', '--allow-metrics', 'off', '--allow-client-shm=true',
    '--model-control-mode', 'explicit', '--repository-poll-secs', '5',
    '--load-model', 'a', '--load-model=*',
    '--strict-readiness=false', '--exit-timeout-secs', '0', '--shutdown-grace-secs=7', '--log-verbose', '2',
    '--log-info', 'false', '--log-warning=FALSE', '--log-error', '0', '--log-format', 'json',
    '--cache-config', 'local,size=1048576', '--worker-threads', '4', '--intra-op-threads', '2', '--worker-spin-us', '0', '--solo-intra-op-threads', '1', '--worker-nice', '5',
    '--max-request-bytes', '1024', '--max-response-bytes', '2048', '--http-engine', 'node', '--grpc-engine', 'http2',
    '--max-inflight-request-bytes', '4096', '--client-rate-limit', '2.5', '--client-rate-burst=10', '--client-rate-key', 'X-Api-Key',
    '--log-file', '/tmp/x.log', '--exit-on-error=false', '--strict-model-config', 'true', '--model-load-thread-count=2',
    '--model-config-name', 'h100', '--backend-config', 'default-max-batch-size=8', '--id=triton-a', '--allow-cpu-metrics', 'false',
    '--metrics-interval-ms', '250.5', '--grpc-keepalive-time', '10000', '--grpc-keepalive-timeout=500', '--grpc-keepalive-permit-without-calls=1',
    '--http-restricted-api', 'model-repository,traffic:Admin-Key=s3cret', '--http-restricted-api=inference:k=v=w',
    '--grpc-restricted-protocol', 'logging:admin-key=x',
    '--http-use-ssl', 'on', '--http-server-cert', '/h.crt', '--http-server-key=/h.key',
    '--grpc-use-ssl=1', '--grpc-server-cert', '/g.crt', '--grpc-server-key', '/g.key', '--grpc-root-cert', '/ca.crt', '--grpc-use-ssl-mutual', 'true',
  ]);
  assert.deepEqual(o, {
    help: false,
    version: false,
    modelRepositories: ['/a', '/b', '/c'],
    httpPort: 9000,
    grpcPort: 9001,
    metricsPort: 0,
    httpAddress: '127.0.0.1',
    grpcAddress: '::1',
    grpcEngine: 'http2',
    metricsAddress: 'localhost',
    allowHttp: false,
    httpEngine: 'node',
    allowGrpc: false,
    allowMetrics: false,
    allowClientShm: true,
    modelControlMode: 'explicit',
    repositoryPollSecs: 5,
    loadModels: ['a', '*'],
    strictReadiness: false,
    exitTimeoutSecs: 0,
    shutdownGraceSecs: 7,
    logVerbose: 2,
    logInfo: false,
    logWarning: false,
    logError: false,
    logFormat: 'json',
    cache: { kind: 'local', size: 1048576 },
    workerThreads: 4,
    intraOpThreads: 2,
    soloIntraOpThreads: 1,
    workerSpinUs: 0,
    workerNice: 5,
    maxRequestBytes: 1024,
    logFile: '/tmp/x.log',
    exitOnError: false,
    autoCompleteConfig: false,
    modelLoadThreadCount: 2,
    modelConfigName: 'h100',
    defaultMaxBatchSize: 8,
    serverId: 'triton-a',
    allowCpuMetrics: false,
    metricsIntervalMs: 250.5,
    grpcKeepaliveTimeMs: 10000,
    grpcKeepaliveTimeoutMs: 500,
    grpcKeepalivePermitWithoutCalls: true,
    ignoredFlags: [],
    maxResponseBytes: 2048,
    maxInflightRequestBytes: 4096,
    clientRateLimit: 2.5,
    clientRateBurst: 10,
    clientRateKey: 'x-api-key',
    httpRestrictedApi: new Map([['model-repository', { key: 'Admin-Key', value: 's3cret' }], ['traffic', { key: 'Admin-Key', value: 's3cret' }], ['inference', { key: 'k', value: 'v=w' }]]),
    grpcRestrictedProtocol: new Map([['logging', { key: 'admin-key', value: 'x' }]]),
    httpTls: { useSsl: true, mutual: false, serverCert: '/h.crt', serverKey: '/h.key', rootCert: '' },
    grpcTls: { useSsl: true, mutual: true, serverCert: '/g.crt', serverKey: '/g.key', rootCert: '/ca.crt' },
  } satisfies ServerOptions);
});

/** Every tritonserver flag Osprey accepts, in both forms: `--flag value` and `--flag=value`. */
const TRITON_FLAGS: ReadonlyArray<[string, string]> = [
  ['--model-repository', '/m'], ['--model-store', '/m'], ['--strict-model-config', 'false'], ['--exit-on-error', 'true'],
  ['--exit-timeout-secs', '30'], ['--strict-readiness', 'true'], ['--model-control-mode', 'poll'], ['--repository-poll-secs', '15'],
  ['--model-load-thread-count', '4'], ['--model-config-name', 'a'], ['--backend-config', 'onnxruntime,intra_op_thread_count=2'],
  ['--log-file', '/tmp/l'], ['--log-format', 'ISO8601'], ['--log-verbose', '1'], ['--log-info', 'true'], ['--log-warning', 'true'],
  ['--log-error', 'true'], ['--id', 'triton'], ['--http-port', '8000'], ['--grpc-port', '8001'], ['--metrics-port', '8002'],
  ['--http-address', '0.0.0.0'], ['--grpc-address', '0.0.0.0'], ['--metrics-address', '0.0.0.0'], ['--http-thread-count', '8'],
  ['--http-header-forward-pattern', 'x-.*'], ['--grpc-header-forward-pattern', 'x-.*'],
  ['--grpc-infer-allocation-pool-size', '8'], ['--grpc-keepalive-time', '7200000'], ['--grpc-keepalive-timeout', '20000'],
  ['--grpc-keepalive-permit-without-calls', 'false'], ['--allow-gpu-metrics', 'true'], ['--allow-cpu-metrics', 'true'],
  ['--metrics-interval-ms', '2000'], ['--metrics-config', 'summary_latencies=true'], ['--trace-config', 'triton,file=/tmp/t'],
  ['--rate-limit', 'off'], ['--rate-limit-resource', 'R1:4'], ['--pinned-memory-pool-byte-size', '268435456'],
  ['--cuda-memory-pool-byte-size', '0:67108864'], ['--response-cache-byte-size', '1024'], ['--buffer-manager-thread-count', '0'],
  ['--allow-client-shm', 'true'], ['--allow-http', 'true'], ['--allow-grpc', 'true'], ['--allow-metrics', 'true'],
  ['--allow-sagemaker', 'false'], ['--allow-vertex-ai', 'false'], ['--cache-config', 'local,size=1'], ['--load-model', 'm'],
];

test("every flag of tritonserver's table is accepted in both forms; those without effect are listed once", () => {
  const NO_EFFECT = new Set(['--http-thread-count', '--http-header-forward-pattern', '--grpc-header-forward-pattern',
    '--grpc-infer-allocation-pool-size', '--allow-gpu-metrics', '--metrics-config', '--trace-config', '--rate-limit',
    '--rate-limit-resource', '--pinned-memory-pool-byte-size', '--cuda-memory-pool-byte-size', '--buffer-manager-thread-count',
    '--allow-sagemaker', '--allow-vertex-ai']);
  for (const [flag, value] of TRITON_FLAGS) {
    // --load-model needs explicit mode; the cache flags exclude each other.
    const extra = flag === '--load-model' ? ['--model-control-mode=explicit'] : [];
    for (const argv of [[flag, value, ...extra], [`${flag}=${value}`, ...extra]]) {
      const o = parseArgs(argv);
      assert.deepEqual([...o.ignoredFlags], NO_EFFECT.has(flag) ? [flag] : [], argv.join(' '));
    }
  }
  assert.throws(() => parseArgs(['--no-such-triton-flag', '1']), { message: "unknown option '--no-such-triton-flag'" });
});

test('flags that take effect: values reach the options', () => {
  assert.equal(parseArgs(['--disable-auto-complete-config']).autoCompleteConfig, false);
  assert.equal(parseArgs(['--strict-model-config=false']).autoCompleteConfig, true);
  assert.equal(parseArgs(['--backend-config=onnxruntime,intra_op_thread_count=3']).intraOpThreads, 3);
  assert.deepEqual(parseArgs(['--response-cache-byte-size', '4096']).cache, { kind: 'local', size: 4096 });
  assert.throws(() => parseArgs(['--response-cache-byte-size', '1', '--cache-config', 'local,size=2']), { message: '--response-cache-byte-size and --cache-config cannot both be given' });
  assert.deepEqual([...parseArgs(['--backend-config', 'tensorflow,version=2']).ignoredFlags], ['--backend-config tensorflow,version=2']);
  assert.throws(() => parseArgs(['--backend-config', 'nonsense']), { message: "invalid value 'nonsense' for --backend-config: expected [<backend>,]<setting>=<value>" });
  assert.throws(() => parseArgs(['--backend-config', 'default-max-batch-size=x']), { message: "invalid value 'default-max-batch-size=x' for --backend-config: 'default-max-batch-size' must be a non-negative integer" });
  assert.throws(() => parseArgs(['--log-format', 'xml']), { message: 'invalid argument for --log-format' });
  assert.throws(() => parseArgs(['--model-config-name', '../x']), { message: "invalid value '../x' for --model-config-name: expected a file name without slashes" });
  assert.throws(() => parseArgs(['--http-thread-count', 'many']), { message: "invalid value 'many' for --http-thread-count: expected an integer" });
  assert.throws(() => parseArgs(['--metrics-interval-ms', '0']), { message: "invalid value '0' for --metrics-interval-ms: expected a positive number" });
});

test('boolean flag forms', () => {
  assert.equal(parseArgs(['--strict-readiness']).strictReadiness, true);
  assert.equal(parseArgs(['--strict-readiness', '--http-port', '1']).strictReadiness, true);
  assert.equal(parseArgs(['--strict-readiness=false']).strictReadiness, false);
  assert.equal(parseArgs(['--strict-readiness', 'false']).strictReadiness, false);
  assert.equal(parseArgs(['--allow-http', 'false', '--allow-http', 'true']).allowHttp, true);
  assert.equal(parseArgs(['--allow-http=1']).allowHttp, true);
  assert.equal(parseArgs(['--allow-http=ON']).allowHttp, true);
  assert.equal(parseArgs(['--log-info']).logInfo, true);
});

test('later values win; ports accept 0; --http-max-input-size alias', () => {
  const o = parseArgs(['--http-port', '1', '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--http-max-input-size', '99']);
  assert.equal(o.httpPort, 0);
  assert.equal(o.maxRequestBytes, 99);
  assert.equal(parseArgs(['--http-port', '65535']).httpPort, 65535);
  assert.deepEqual(parseArgs(['--model-control-mode=poll', '--repository-poll-secs=1']).modelControlMode, 'poll');
  assert.equal(parseArgs(['--log-format', 'ISO8601']).logFormat, 'ISO8601');
  assert.deepEqual(parseArgs(['--cache-config=local,size=0']).cache, { kind: 'local', size: 0 });
});

test('result is frozen, arrays included, and defaults are not shared', () => {
  const o = parseArgs(['--model-repository', '/a', '--cache-config', 'local,size=1']);
  assert.ok(Object.isFrozen(o));
  assert.ok(Object.isFrozen(o.modelRepositories));
  assert.ok(Object.isFrozen(o.loadModels));
  assert.ok(Object.isFrozen(o.cache));
  assert.throws(() => { (o as ServerOptions).httpPort = 1; }, TypeError);
  assert.deepEqual(DEFAULT_OPTIONS.modelRepositories, []);
  assert.ok(Object.isFrozen(DEFAULT_OPTIONS));
});

test('--version', () => {
  assert.equal(parseArgs(['--version']).version, true);
  assert.equal(parseArgs(['--http-port', '1']).version, false);
});

test('--help and -h', () => {
  assert.equal(parseArgs(['--help']).help, true);
  assert.equal(parseArgs(['--http-port', 'x', '-h']).help, true);
  const text = usageText();
  assert.match(text, /^Usage: osprey \[options\]/);
  for (const flag of ['--model-repository', '--http-port', '--grpc-port', '--metrics-port', '--allow-http', '--allow-grpc',
    '--allow-metrics', '--model-control-mode', '--repository-poll-secs', '--load-model', '--strict-readiness',
    '--exit-timeout-secs', '--shutdown-grace-secs', '--log-verbose', '--log-info', '--log-warning', '--log-error', '--log-format',
    '--cache-config', '--http-address', '--grpc-address', '--worker-threads', '--intra-op-threads',
    '--worker-spin-us', '--worker-nice', '--solo-intra-op-threads', '--max-request-bytes', '--max-response-bytes', '--http-engine', '--grpc-engine', '--version', '--help',
    '--http-use-ssl', '--http-server-cert', '--http-server-key', '--http-root-cert', '--http-use-ssl-mutual',
    '--grpc-use-ssl', '--grpc-server-cert', '--grpc-server-key', '--grpc-root-cert', '--grpc-use-ssl-mutual']) {
    assert.ok(text.includes(flag), flag);
  }
  // One limit for both protocols, counted after decompression (issue 16, item 4).
  assert.match(text, /--max-request-bytes.*after decompression.*gRPC message.*RESOURCE_EXHAUSTED/);
  // Issue 16, items 7 and 9: the global body bound and the per-client rate limit, with their defaults.
  assert.match(text, /--max-inflight-request-bytes <bytes> +Most request bytes all requests in flight may hold together, HTTP and gRPC.*HTTP 503.*gRPC RESOURCE_EXHAUSTED \(default 1073741824\)/);
  assert.match(text, /--client-rate-limit <per second> +.*429 with Retry-After.*RESOURCE_EXHAUSTED.*osprey_rate_limited_total.*\(default 0\)/);
  assert.match(text, /--client-rate-burst <n> /);
  assert.match(text, /--client-rate-key <header> .*peer address/);
});

test('rate-limit and in-flight body flags: bad values', () => {
  rejects(['--client-rate-limit', '-1'], "invalid value '-1' for --client-rate-limit: expected a non-negative number");
  rejects(['--client-rate-limit', 'fast'], "invalid value 'fast' for --client-rate-limit: expected a non-negative number");
  rejects(['--client-rate-burst', '1.5'], "invalid value '1.5' for --client-rate-burst: expected a non-negative integer");
  rejects(['--client-rate-key', 'a b'], "invalid value 'a b' for --client-rate-key: expected a header name");
  rejects(['--max-inflight-request-bytes', '0'], "invalid value '0' for --max-inflight-request-bytes: expected an integer >= 1");
});

test('exact error messages', () => {
  rejects(['--foo'], "unknown option '--foo'");
  rejects(['--foo=1'], "unknown option '--foo'");
  rejects(['-x'], "unknown option '-x'");
  rejects(['models'], "unexpected argument 'models'");
  rejects(['--http-port', 'abc'], "invalid value 'abc' for --http-port: expected an integer 0-65535");
  rejects(['--http-port=65536'], "invalid value '65536' for --http-port: expected an integer 0-65535");
  rejects(['--grpc-port', '-1'], "invalid value '-1' for --grpc-port: expected an integer 0-65535");
  rejects(['--metrics-port', '1.5'], "invalid value '1.5' for --metrics-port: expected an integer 0-65535");
  rejects(['--http-port='], "invalid value '' for --http-port: expected an integer 0-65535");
  rejects(['--http-port'], 'missing value for --http-port');
  rejects(['--model-repository', '--http-port', '1'], 'missing value for --model-repository');
  rejects(['--model-repository='], "invalid value '' for --model-repository: expected a path");
  rejects(['--allow-http', 'maybe'], "invalid value 'maybe' for --allow-http: expected true, false, on, off, 1 or 0");
  rejects(['--strict-readiness=no'], "invalid value 'no' for --strict-readiness: expected true, false, on, off, 1 or 0");
  rejects(['--model-control-mode', 'auto'], "invalid value 'auto' for --model-control-mode: expected none, poll, watch or explicit");
  rejects(['--log-format', 'xml'], 'invalid argument for --log-format');
  rejects(['--http-engine', 'uWS'], "invalid value 'uWS' for --http-engine: expected auto, net, node or uws");
  rejects(['--http-engine='], "invalid value '' for --http-engine: expected auto, net, node or uws");
  rejects(['--grpc-engine', 'grpcjs'], "invalid value 'grpcjs' for --grpc-engine: expected grpc-js, http2 or net");
  rejects(['--grpc-engine='], "invalid value '' for --grpc-engine: expected grpc-js, http2 or net");
  rejects(['--repository-poll-secs', '0'], "invalid value '0' for --repository-poll-secs: expected an integer >= 1");
  rejects(['--exit-timeout-secs', 'x'], "invalid value 'x' for --exit-timeout-secs: expected a non-negative integer");
  rejects(['--shutdown-grace-secs', '1.5'], "invalid value '1.5' for --shutdown-grace-secs: expected a non-negative integer");
  rejects(['--log-verbose', '-1'], "invalid value '-1' for --log-verbose: expected a non-negative integer");
  rejects(['--worker-threads', '1e3'], "invalid value '1e3' for --worker-threads: expected a non-negative integer");
  rejects(['--worker-nice', '20'], "invalid value '20' for --worker-nice: expected an integer 0-19");
  rejects(['--worker-nice', '-5'], "invalid value '-5' for --worker-nice: expected an integer 0-19");
  rejects(['--intra-op-threads', ' 2'], "invalid value ' 2' for --intra-op-threads: expected a non-negative integer");
  rejects(['--max-request-bytes', '0'], "invalid value '0' for --max-request-bytes: expected an integer >= 1");
  rejects(['--max-request-bytes', '99999999999999999999'],
    "invalid value '99999999999999999999' for --max-request-bytes: expected an integer >= 1");
  rejects(['--cache-config', 'local'], "invalid value 'local' for --cache-config: expected local,size=<bytes>");
  rejects(['--cache-config', 'redis,host=x'], "invalid value 'redis,host=x' for --cache-config: only the 'local' cache is supported");
  rejects(['--cache-config', 'local,bytes=1'], "invalid value 'local,bytes=1' for --cache-config: unknown local cache setting 'bytes'");
  rejects(['--cache-config', 'local,size=1k'], "invalid value 'local,size=1k' for --cache-config: size must be a non-negative integer");
  rejects(['--load-model', ''], "invalid value '' for --load-model: expected a model name");
  rejects(['--load-model', 'a'], '--load-model requires --model-control-mode=explicit');
  rejects(['--http-port', '9000', '--grpc-port', '9000'], '--http-port and --grpc-port are both 9000');
  rejects(['--metrics-port', '8000'], '--http-port and --metrics-port are both 8000');
});

test('a disabled endpoint may share a port', () => {
  assert.equal(parseArgs(['--allow-grpc=false', '--grpc-port', '8000']).grpcPort, 8000);
});

test('restricted API flags: tritonserver\'s texts (main prints the usage and exits 1)', () => {
  const fails = (args: string[], message: string) => assert.throws(() => parseArgs(args), (e: Error) => e instanceof RestrictionFlagError && e.message === message);
  for (const bad of ['model-repository', 'model-repository:', 'model-repository:k', 'model-repository:k=', ':k=v', 'model-repository:=v']) {
    fails(['--http-restricted-api', bad], `--http-restricted-api option format is '<config name>:<setting>=<value>'. Got ${bad}`);
  }
  fails(['--grpc-restricted-protocol=x'], "--grpc-restricted-protocol option format is '<config name>:<setting>=<value>'. Got x");
  fails(['--http-restricted-api', 'admin:k=v'], "unknown restricted api 'admin' ");
  fails(['--grpc-restricted-protocol', 'inference,bogus:k=v'], "unknown restricted protocol 'bogus' ");
  fails(['--http-restricted-api', 'logging:a=1', '--http-restricted-api', 'health,logging:b=2'], "restricted api 'logging' can not be specified in multiple config groups");
  fails(['--grpc-restricted-protocol', 'trace,trace:a=1'], "restricted protocol 'trace' can not be specified in multiple config groups");
  // The same category may be restricted on each protocol.
  const o = parseArgs(['--http-restricted-api', 'traffic:a=1', '--grpc-restricted-protocol', 'traffic:a=2']);
  assert.deepEqual([o.httpRestrictedApi.get('traffic'), o.grpcRestrictedProtocol.get('traffic')], [{ key: 'a', value: '1' }, { key: 'a', value: '2' }]);
});

test('TLS flags: bools take true/on/1 and false/off/0; TLS on needs a certificate and key; mutual needs the root CA', () => {
  const base = ['--grpc-server-cert', '/c', '--grpc-server-key', '/k'];
  for (const on of ['true', 'on', '1', 'ON']) assert.equal(parseArgs(['--grpc-use-ssl', on, ...base]).grpcTls.useSsl, true);
  for (const off of ['false', 'off', '0']) assert.equal(parseArgs(['--grpc-use-ssl', off]).grpcTls.useSsl, false);
  assert.throws(() => parseArgs(['--http-use-ssl=yes']), new CliError("invalid value 'yes' for --http-use-ssl: expected true, false, on, off, 1 or 0"));
  assert.throws(() => parseArgs(['--http-server-cert=']), new CliError("invalid value '' for --http-server-cert: expected a PEM file path"));
  assert.throws(() => parseArgs(['--grpc-use-ssl']), new CliError('--grpc-use-ssl requires --grpc-server-cert'));
  assert.throws(() => parseArgs(['--http-use-ssl', '--http-server-cert', '/c']), new CliError('--http-use-ssl requires --http-server-key'));
  // Mutual wins: it turns TLS on by itself and needs the CA client certificates chain to.
  assert.throws(() => parseArgs(['--grpc-use-ssl-mutual', ...base]),
    new CliError('--grpc-use-ssl-mutual requires --grpc-root-cert (the CA client certificates must chain to)'));
  assert.throws(() => parseArgs(['--grpc-use-ssl', 'false', '--grpc-use-ssl-mutual', 'on', '--grpc-server-key', '/k']),
    new CliError('--grpc-use-ssl-mutual requires --grpc-server-cert'));
  // Files named while TLS is off are ignored (as tritonserver does).
  assert.equal(parseArgs(['--http-server-cert', '/nowhere']).httpTls.serverCert, '/nowhere');
  assert.ok(Object.isFrozen(parseArgs(base).grpcTls));
});
