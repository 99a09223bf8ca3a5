/**
 * The protocol-neutral conformance cases: each one is a request and what must come
 * back (outputs, or an error with its HTTP status, gRPC status code and exact
 * message). `suite.ts` runs every case through a `Driver`; `http.test.ts` and
 * `grpc.test.ts` each supply one driver and one server, so both front ends answer
 * the same table (hono's shared router suite, Triton's qa/L0_* tests).
 *
 * Expected numbers are computed here from the inputs (never copied from a run).
 * Where the two protocols legitimately word one failure differently (a JSON
 * `data` array against gRPC typed contents, say) the message is keyed by
 * protocol and form: see `messageFor`.
 */
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { DataType, Params } from '../../src/types/tensor.js';
import { joinBytes } from '../../src/codec/raw.js';
import { toRaw } from '../helpers/http-client.js';
import { FIXTURE_REPO } from '../helpers/server.js';
import { TYPED_DATATYPES, typedModelName } from '../helpers/conformance-repo.js';

export type Protocol = 'http' | 'grpc';
/**
 * How tensor data travels. raw: HTTP binary tensor extension (inputs and outputs) /
 * gRPC raw_input_contents. typed: HTTP JSON `data` (outputs as JSON) / gRPC typed
 * `contents`. gRPC outputs are always raw_output_contents.
 */
export type Form = 'raw' | 'typed';
export const FORMS: readonly Form[] = ['raw', 'typed'];

export interface TensorSpec {
  name: string;
  /** A string, so a case can send a datatype that does not exist. */
  datatype: string;
  shape: number[];
  /** Element values (JSON / typed form); the raw form encodes them with toRaw. */
  values?: readonly unknown[];
  /** Raw bytes, sent as they are (both forms fall back to raw for such a tensor over HTTP). */
  raw?: Uint8Array;
}

export interface InferSpec {
  model: string;
  version?: string;
  id?: string;
  parameters?: Params;
  inputs: TensorSpec[];
  outputs?: Array<{ name: string; parameters?: Params }>;
}

/** An output as a driver hands it back: raw layout whatever the wire form was. */
export interface OutTensor {
  name: string;
  datatype: string;
  shape: number[];
  raw: Uint8Array;
}

export interface ExpectedTensor {
  name: string;
  datatype: DataType;
  shape: number[];
  values?: readonly unknown[];
  raw?: Uint8Array;
  /** Extra checks (values that cannot be computed here, e.g. a learned model's score). */
  check?: (got: OutTensor) => void;
}

export type MessageKey = Protocol | `${Protocol}/${Form}`;
/** One message for every protocol, or per protocol (`http`) or protocol and form (`http/typed`). */
export type MessageSpec = string | Partial<Record<MessageKey, string>>;

export interface ExpectedError {
  http: number;
  grpc: number;
  message: MessageSpec;
}

export function messageFor(spec: MessageSpec, protocol: Protocol, form?: Form): string {
  if (typeof spec === 'string') return spec;
  const m = (form !== undefined ? spec[`${protocol}/${form}`] : undefined) ?? spec[protocol];
  if (m === undefined) throw new Error(`case has no message for ${protocol}${form ? `/${form}` : ''}`);
  return m;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: number; message: string };

export interface InferReply {
  modelName: string;
  modelVersion: string;
  id: string;
  outputs: OutTensor[];
}

export interface InferCase {
  name: string;
  request: InferSpec;
  /** Default: both forms. */
  forms?: readonly Form[];
  expect: { outputs: ExpectedTensor[]; modelVersion?: string; id?: string } | { error: ExpectedError };
}

const err = (http: number, grpc: number, message: MessageSpec): ExpectedError => ({ http, grpc, message });
export const invalidArg = (message: MessageSpec): ExpectedError => err(400, GrpcStatus.INVALID_ARGUMENT, message);
export const unavailable = (message: MessageSpec): ExpectedError => err(503, GrpcStatus.UNAVAILABLE, message);
export const internal = (message: MessageSpec): ExpectedError => err(500, GrpcStatus.INTERNAL, message);

// ---------------------------------------------------------------- value helpers

const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

/** INT32 arithmetic as ONNX Runtime does it: two's complement wrap-around. */
const i32 = (v: number): number => v | 0;

const f32 = Math.fround;

/** `simple`'s two inputs for a batch, with values that cover sign and int32 wrap-around. */
export function simpleInputs(batch: number, seed = 0): { a: number[]; b: number[] } {
  const a = range(batch * 16, (i) => ((i * 7919 + seed * 104729) % 2001) - 1000);
  const b = range(batch * 16, (i) => ((i * 31 + seed * 17) % 97) - 48);
  if (batch > 0) {
    // Wrap-around: INT32_MAX + 1 and INT32_MIN - 1.
    a[0] = 2147483647; b[0] = 1;
    a[1] = -2147483648; b[1] = 1;
  }
  return { a, b };
}

export function simpleRequest(batch: number, seed = 0, extra: Partial<InferSpec> = {}): InferSpec {
  const { a, b } = simpleInputs(batch, seed);
  return {
    model: 'simple',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [batch, 16], values: a },
      { name: 'INPUT1', datatype: 'INT32', shape: [batch, 16], values: b },
    ],
    ...extra,
  };
}

export function simpleOutputs(batch: number, seed = 0): { sum: ExpectedTensor; diff: ExpectedTensor } {
  const { a, b } = simpleInputs(batch, seed);
  return {
    sum: { name: 'OUTPUT0', datatype: 'INT32', shape: [batch, 16], values: a.map((v, i) => i32(v + b[i]!)) },
    diff: { name: 'OUTPUT1', datatype: 'INT32', shape: [batch, 16], values: a.map((v, i) => i32(v - b[i]!)) },
  };
}

/** The good request sent after every bad one: the server must still serve. */
export const CANARY: InferCase = (() => {
  const o = simpleOutputs(1, 99);
  return { name: 'canary', request: simpleRequest(1, 99), expect: { outputs: [o.sum, o.diff], modelVersion: '1' } };
})();

/** Values per datatype for the typed (JSON / contents) form: JSON can carry all of them. */
export const TYPED_VALUES: Readonly<Record<string, readonly unknown[]>> = {
  BOOL: [true, false, true, true],
  UINT8: [0, 1, 128, 255],
  UINT16: [0, 1, 32768, 65535],
  UINT32: [0, 1, 2147483648, 4294967295],
  UINT64: [0, 1, 9007199254740993n, 18446744073709551615n],
  INT8: [-128, -1, 0, 127],
  INT16: [-32768, -1, 0, 32767],
  INT32: [-2147483648, -1, 0, 2147483647],
  INT64: [-9223372036854775808n, -9007199254740993n, 0, 9223372036854775807n],
  FP32: [0.1, -1.5, 3.4028234663852886e38, 1.401298464324817e-45, -2.5e-10],
  FP64: [0.1, -1.5, 1.7976931348623157e308, 5e-324, 1e-300],
  BYTES: ['', 'hello', 'héllo wörld', '日本語テキスト', '🦅 osprey', '"quoted" \\ back\nslash'],
};

/** The raw form also carries what JSON cannot: NaN, infinities, negative zero. */
export const RAW_VALUES: Readonly<Record<string, readonly unknown[]>> = {
  ...TYPED_VALUES,
  FP32: [...TYPED_VALUES.FP32!, NaN, Infinity, -Infinity, -0],
  FP64: [...TYPED_VALUES.FP64!, NaN, Infinity, -Infinity, -0],
};

/** FP16 travels raw only: 1, -2, 65504 (max), smallest subnormal, +inf, -0. */
export const FP16_RAW = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000]).buffer);

const IDENTITY_ALL_TYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'STRING'] as const;

function identityAllRequest(): { request: InferSpec; outputs: ExpectedTensor[] } {
  const inputs: TensorSpec[] = [];
  const outputs: ExpectedTensor[] = [];
  for (const t of IDENTITY_ALL_TYPES) {
    const datatype: DataType = t === 'STRING' ? 'BYTES' : t;
    const raw = datatype === 'FP16' ? FP16_RAW : toRaw(datatype, RAW_VALUES[datatype]!);
    const n = datatype === 'FP16' ? FP16_RAW.byteLength / 2 : RAW_VALUES[datatype]!.length;
    inputs.push({ name: `IN_${t}`, datatype, shape: [n], raw });
    outputs.push({ name: `OUT_${t}`, datatype, shape: [n], raw });
  }
  return { request: { model: 'identity_all', inputs }, outputs };
}

// ---------------------------------------------------------------- infer: good

function scalerCase(name: string, version: string | undefined, factor: number): InferCase {
  const x = [0.5, -1.25, 3, 1e-3, 100.1, -7, 0, 2.5e10];
  return {
    name,
    request: { model: 'scaler', version, inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], values: x }] },
    expect: {
      modelVersion: String(factor),
      outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 4], values: x.map((v) => f32(f32(v) * factor)) }],
    },
  };
}

function typedIdentityCases(): InferCase[] {
  return TYPED_DATATYPES.map((t) => {
    const values = TYPED_VALUES[t]!;
    return {
      name: `${t} round-trips through ${typedModelName(t)}`,
      request: { model: typedModelName(t), inputs: [{ name: `IN_${t}`, datatype: t, shape: [values.length], values }] },
      expect: { outputs: [{ name: `OUT_${t}`, datatype: t, shape: [values.length], values }] },
    };
  });
}

const AUTOCOMPLETE_A = [0.5, -1.25, 3, 1e-3, 100.1, -7];
const FLAKY_TABLE = [10, 20, 30, 40];

export const INFER_CASES: readonly InferCase[] = [
  (() => {
    const o = simpleOutputs(1);
    return { name: 'simple: batch 1, sum and difference (with int32 wrap-around)', request: simpleRequest(1), expect: { outputs: [o.sum, o.diff], modelVersion: '1' } };
  })(),
  (() => {
    const o = simpleOutputs(8, 1);
    return { name: 'simple: batch 8 (= max_batch_size)', request: simpleRequest(8, 1), expect: { outputs: [o.sum, o.diff] } };
  })(),
  (() => {
    const o = simpleOutputs(3, 2);
    return {
      name: 'simple: requested outputs come back in the requested order',
      request: simpleRequest(3, 2, { outputs: [{ name: 'OUTPUT1' }, { name: 'OUTPUT0' }] }),
      expect: { outputs: [o.diff, o.sum] },
    };
  })(),
  (() => {
    const o = simpleOutputs(2, 12);
    return {
      name: 'simple: an output asked for twice comes back once (Triton keeps requested outputs in a set)',
      request: simpleRequest(2, 12, { outputs: [{ name: 'OUTPUT1' }, { name: 'OUTPUT0' }, { name: 'OUTPUT1' }] }),
      expect: { outputs: [o.diff, o.sum] },
    };
  })(),
  (() => {
    const o = simpleOutputs(2, 3);
    return {
      name: 'simple: a subset of outputs',
      request: simpleRequest(2, 3, { outputs: [{ name: 'OUTPUT1' }] }),
      expect: { outputs: [o.diff] },
    };
  })(),
  (() => {
    const o = simpleOutputs(1, 4);
    return {
      name: 'simple: explicit version 1, request id echoed, free-form parameters pass',
      request: simpleRequest(1, 4, { version: '1', id: 'req-42 ✓', parameters: { custom_flag: true, custom_text: 'x', custom_number: 7 } }),
      expect: { outputs: [o.sum, o.diff], modelVersion: '1', id: 'req-42 ✓' },
    };
  })(),
  scalerCase('scaler: version 1 by explicit version (y = x)', '1', 1),
  scalerCase('scaler: version 2 by explicit version (y = 2x)', '2', 2),
  scalerCase('scaler: no version serves the highest (2)', undefined, 2),
  {
    name: 'tabular: batch 3, scores in (0, 1)',
    request: {
      model: 'tabular',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [3, 64], values: range(192, (i) => Math.sin(i) * 2) }],
    },
    expect: {
      outputs: [{
        name: 'score', datatype: 'FP32', shape: [3, 1],
        check: (got) => {
          const v = new Float32Array(new Uint8Array(got.raw).buffer);
          if (v.length !== 3 || ![...v].every((s) => s > 0 && s < 1)) throw new Error(`scores not in (0,1): ${[...v]}`);
        },
      }],
    },
  },
  {
    name: 'string_identity: BYTES batch of 3 with unicode and empty strings',
    request: {
      model: 'string_identity',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [3, 1], values: ['', 'naïve café', '🦅🦅'] }],
    },
    expect: { outputs: [{ name: 'OUTPUT0', datatype: 'BYTES', shape: [3, 1], values: ['', 'naïve café', '🦅🦅'] }] },
  },
  {
    name: 'autocomplete (no config.pbtxt): b = a * 3',
    request: { model: 'autocomplete', inputs: [{ name: 'a', datatype: 'FP32', shape: [2, 3], values: AUTOCOMPLETE_A }] },
    expect: { outputs: [{ name: 'b', datatype: 'FP32', shape: [2, 3], values: AUTOCOMPLETE_A.map((v) => f32(f32(v) * 3)) }] },
  },
  (() => {
    const x = [1, 2.5, -0.5, 4];
    const idx = [0n, 3n, -1n, -4n];
    return {
      name: 'flaky: in-range indices, y = table[idx] + x',
      request: {
        model: 'flaky',
        inputs: [
          { name: 'x', datatype: 'FP32', shape: [4, 1], values: x },
          { name: 'idx', datatype: 'INT64', shape: [4, 1], values: idx },
        ],
      },
      expect: {
        outputs: [{
          name: 'y', datatype: 'FP32', shape: [4, 1],
          values: x.map((v, i) => f32(FLAKY_TABLE.at(Number(idx[i]))! + v)),
        }],
      },
    };
  })(),
  {
    name: 'cnn: one 3x32x32 image -> 10 finite logits',
    request: { model: 'cnn', inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 32, 32], values: range(3072, (i) => ((i % 255) / 255) - 0.5) }] },
    expect: {
      outputs: [{
        name: 'logits', datatype: 'FP32', shape: [1, 10],
        check: (got) => {
          const v = new Float32Array(new Uint8Array(got.raw).buffer);
          if (v.length !== 10 || ![...v].every(Number.isFinite)) throw new Error(`bad logits ${[...v]}`);
        },
      }],
    },
  },
  {
    name: 'slow (non-batched, shape [1]): y = x',
    request: { model: 'slow', inputs: [{ name: 'x', datatype: 'FP32', shape: [1], values: [1.5] }] },
    expect: { outputs: [{ name: 'y', datatype: 'FP32', shape: [1], values: [1.5] }] },
  },
  {
    name: 'identity_fp32_batched: batch 8 of 5 elements',
    request: { model: 'identity_fp32_batched', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [8, 5], values: range(40, (i) => i / 8 - 2) }] },
    expect: { outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [8, 5], values: range(40, (i) => i / 8 - 2) }] },
  },
  (() => {
    const { request, outputs } = identityAllRequest();
    return {
      name: 'identity_all: all 13 datatypes at once, raw (FP16, NaN, infinities, -0 included)',
      request, forms: ['raw'], expect: { outputs },
    } satisfies InferCase;
  })(),
  ...typedIdentityCases(),
  {
    name: 'scaler: classification without labels gives "<value>:<index>"',
    request: {
      model: 'scaler', version: '1',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], values: [1, 4, 2, 3, -1, -4, -2, -3] }],
      outputs: [{ name: 'y', parameters: { classification: 2 } }],
    },
    expect: {
      outputs: [{ name: 'y', datatype: 'BYTES', shape: [2, 2], values: ['4.000000:1', '3.000000:3', '-1.000000:0', '-2.000000:2'] }],
    },
  },
];

// ---------------------------------------------------------------- infer: bad

/** The same request with one input replaced. */
function simpleWith(input0: Partial<TensorSpec>, extra: Partial<InferSpec> = {}): InferSpec {
  const r = simpleRequest(1, 5, extra);
  r.inputs[0] = { ...r.inputs[0]!, ...input0 };
  return r;
}

const i32Raw = (n: number): Uint8Array => toRaw('INT32', range(n, (i) => i));

function bytesRaw(...parts: number[][]): Uint8Array {
  return Uint8Array.from(parts.flat());
}

export const ERROR_CASES: readonly InferCase[] = [
  {
    name: 'wrong datatype',
    request: simpleWith({ datatype: 'FP32', values: range(16, (i) => i + 0.5), raw: undefined }),
    expect: { error: invalidArg("inference input 'INPUT0' data-type is 'FP32', but model 'simple' expects 'INT32'") },
  },
  {
    name: 'datatype that does not exist',
    request: simpleWith({ datatype: 'FLOAT', raw: toRaw('FP32', range(16, (i) => i)) }),
    forms: ['raw'],
    expect: { error: invalidArg("invalid datatype 'FLOAT' for input 'INPUT0'; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES, BF16") },
  },
  {
    name: 'wrong shape (dim)',
    request: simpleWith({ shape: [1, 15], values: range(15, (i) => i) }),
    expect: { error: invalidArg("unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,16], got [1,15]. ") },
  },
  {
    name: 'wrong shape (rank: batch dim missing)',
    request: simpleWith({ shape: [16] }),
    expect: { error: invalidArg("unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,16], got [16]. ") },
  },
  {
    name: 'negative dim in shape',
    request: simpleWith({ shape: [1, -16] }),
    expect: { error: invalidArg("'shape' of input 'INPUT0' must hold non-negative integers, got -16") },
  },
  {
    name: 'element count does not match the shape',
    request: simpleWith({ values: range(15, (i) => i) }),
    expect: {
      error: invalidArg({
        'http/typed': "unable to parse 'data' for input 'INPUT0': shape [1,16] has 16 elements but 'data' has 15",
        'http/raw': "unexpected total byte size 60 for input 'INPUT0', expecting 64",
        grpc: "unexpected total byte size 60 for input 'INPUT0', expecting 64",
      }),
    },
  },
  {
    name: 'raw contents size mismatch (63 bytes: not a whole element)',
    request: simpleWith({ raw: i32Raw(16).subarray(0, 63), values: undefined }),
    forms: ['raw'],
    expect: { error: invalidArg("unexpected total byte size 63 for input 'INPUT0', expecting 64") },
  },
  {
    name: 'batch over max_batch_size',
    request: simpleRequest(9, 6),
    expect: { error: invalidArg("inference request batch-size must be <= 8 for 'simple'") },
  },
  {
    name: 'inputs with different batch sizes',
    request: (() => {
      const r = simpleRequest(2, 7);
      r.inputs[1] = { ...r.inputs[1]!, shape: [1, 16], values: r.inputs[1]!.values!.slice(0, 16) };
      return r;
    })(),
    expect: { error: invalidArg("input 'INPUT1' batch size does not match other inputs for 'simple'") },
  },
  {
    name: 'BYTES length prefix past the end',
    request: {
      model: 'string_identity',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], raw: bytesRaw([100, 0, 0, 0], [...Buffer.from('hello')]) }],
    },
    forms: ['raw'],
    expect: { error: invalidArg("incomplete string data for inference input 'INPUT0', expecting string of length 100 but only 5 bytes available") },
  },
  {
    name: 'BYTES length prefix itself cut short',
    request: {
      model: 'string_identity',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], raw: bytesRaw([1, 0, 0, 0, 65], [2, 0]) }],
    },
    forms: ['raw'],
    expect: { error: invalidArg("incomplete string length for inference input 'INPUT0', expecting 4 bytes but only 2 bytes available") },
  },
  {
    name: 'BYTES element count does not match the shape',
    request: { model: 'string_identity', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], values: ['a', 'b'] }] },
    expect: {
      error: invalidArg({
        'http/typed': "unable to parse 'data' for input 'INPUT0': shape [1,1] has 1 elements but 'data' has 2",
        'http/raw': "expected 1 string elements for inference input 'INPUT0', got 2",
        grpc: "expected 1 string elements for inference input 'INPUT0', got 2",
      }),
    },
  },
  {
    name: 'unknown model',
    request: { ...simpleRequest(1), model: 'x' },
    expect: { error: invalidArg("Request for unknown model: 'x' is not found") },
  },
  {
    name: 'unknown version',
    request: simpleRequest(1, 0, { version: '7' }),
    expect: { error: invalidArg("Request for unknown model: 'simple' version 7 is not found") },
  },
  {
    name: 'non-numeric version',
    request: simpleRequest(1, 0, { version: 'abc' }),
    expect: {
      error: invalidArg({
        http: "invalid model version 'abc': a version must be a decimal number",
        grpc: "failed to get model version from specified version string 'abc' (details: stol), version should be an integral value > 0",
      }),
    },
  },
  {
    name: 'model that failed to load (config syntax error)',
    request: { ...simpleRequest(1), model: 'bad_config' },
    expect: { error: unavailable("Request for unknown model: 'bad_config' has no available versions") },
  },
  {
    name: 'version that failed to load (config names a missing input)',
    request: { ...simpleRequest(1), model: 'mismatch', version: '1' },
    expect: { error: unavailable("Request for unknown model: 'mismatch' version 1 is not at ready state") },
  },
  {
    name: 'unknown input name',
    request: (() => {
      const r = simpleRequest(1, 8);
      r.inputs.push({ name: 'INPUT9', datatype: 'INT32', shape: [1, 16], values: range(16, (i) => i) });
      return r;
    })(),
    expect: { error: invalidArg("unexpected inference input 'INPUT9' for model 'simple'") },
  },
  {
    name: 'input given twice',
    request: (() => {
      const r = simpleRequest(1, 8);
      r.inputs[1] = { ...r.inputs[0]! };
      return r;
    })(),
    expect: { error: invalidArg("input 'INPUT0' is specified more than once for model 'simple'") },
  },
  {
    name: 'unknown output name',
    request: simpleRequest(1, 9, { outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT9' }] }),
    expect: { error: invalidArg("unexpected inference output 'OUTPUT9' for model 'simple'") },
  },
  {
    name: 'missing input',
    request: (() => {
      const r = simpleRequest(1, 10);
      r.inputs.pop();
      return r;
    })(),
    expect: { error: invalidArg("expected 2 inputs but got 1 inputs for model 'simple'. Got input(s) ['INPUT0'], but missing required input(s) ['INPUT1']. Please provide all required input(s).") },
  },
  {
    name: 'reserved request parameter',
    request: simpleRequest(1, 11, { parameters: { triton_priority: true } }),
    expect: { error: invalidArg("Parameter 'triton_priority' is a reserved parameter and cannot be specified.") },
  },
  {
    name: 'classification of a BYTES output',
    request: {
      model: 'string_identity',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], values: ['a'] }],
      outputs: [{ name: 'OUTPUT0', parameters: { classification: 1 } }],
    },
    expect: { error: invalidArg("class result not available for output 'OUTPUT0' due to unsupported type 'BYTES'") },
  },
  ...([
    ['a NUL inside an element ("he\\x00llo")', Buffer.from('he\x00llo', 'latin1'), 'holds a NUL byte at offset 2; ONNX Runtime string tensors end at the first NUL, so such elements are refused rather than cut'],
    ['a NUL first ("\\x00\\x01\\x02\\x03")', Buffer.from([0, 1, 2, 3]), 'holds a NUL byte at offset 0; ONNX Runtime string tensors end at the first NUL, so such elements are refused rather than cut'],
    ['bytes that are not UTF-8', Buffer.from([0x68, 0xff, 0xfe]), 'is not valid UTF-8; ONNX Runtime string tensors hold text, so such elements are refused rather than changed'],
  ] as const).map(([what, bad, why]): InferCase => ({
    name: `BYTES element with ${what}: refused, never silently changed`,
    request: {
      model: 'string_identity',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [3, 1], raw: joinBytes([Buffer.from('ok'), Buffer.from(''), bad]) }],
    },
    expect: { error: invalidArg(`element 2 of BYTES input 'INPUT0' for model 'string_identity' ${why}`) },
  })),
  {
    name: 'runtime failure inside the model (Gather index out of range)',
    request: {
      model: 'flaky',
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [1, 1], values: [1] },
        { name: 'idx', datatype: 'INT64', shape: [1, 1], values: [9n] },
      ],
    },
    expect: {
      error: internal("Non-zero status code returned while running Gather node. Name:'' Status Message: indices element out of data bounds, idx=9 must be within the inclusive range [-4,3]"),
    },
  },
];

// ---------------------------------------------------------------- control

/**
 * Advertised extensions: exactly what is implemented (Triton's list without `trace`,
 * which Osprey does not implement).
 * The shared-memory two are added by the server that has the manager (and, for system
 * shared memory, the native addon): see shm.test.ts.
 */
export const EXPECTED_EXTENSIONS = [
  'classification', 'sequence', 'model_repository', 'model_repository(unload_dependents)', 'schedule_policy',
  'model_configuration', 'binary_tensor_data', 'parameters', 'statistics', 'logging',
  'system_shared_memory', 'cuda_shared_memory',
] as const;

export const NOT_ADVERTISED = ['trace'] as const;

export interface MetadataCase {
  name: string;
  model: string;
  version?: string;
  expect: { value: unknown } | { error: ExpectedError };
}

const io = (name: string, datatype: string, shape: number[]) => ({ name, datatype, shape });

export const METADATA_CASES: readonly MetadataCase[] = [
  {
    name: 'simple', model: 'simple',
    expect: {
      value: {
        name: 'simple', versions: ['1'], platform: 'onnxruntime_onnx',
        inputs: [io('INPUT0', 'INT32', [-1, 16]), io('INPUT1', 'INT32', [-1, 16])],
        outputs: [io('OUTPUT0', 'INT32', [-1, 16]), io('OUTPUT1', 'INT32', [-1, 16])],
      },
    },
  },
  {
    name: 'scaler: both versions, as strings', model: 'scaler',
    expect: { value: { name: 'scaler', versions: ['1', '2'], platform: 'onnxruntime_onnx', inputs: [io('x', 'FP32', [-1, 4])], outputs: [io('y', 'FP32', [-1, 4])] } },
  },
  {
    name: 'scaler version 1', model: 'scaler', version: '1',
    expect: { value: { name: 'scaler', versions: ['1', '2'], platform: 'onnxruntime_onnx', inputs: [io('x', 'FP32', [-1, 4])], outputs: [io('y', 'FP32', [-1, 4])] } },
  },
  {
    name: 'tabular', model: 'tabular',
    expect: { value: { name: 'tabular', versions: ['1'], platform: 'onnxruntime_onnx', inputs: [io('features', 'FP32', [-1, 64])], outputs: [io('score', 'FP32', [-1, 1])] } },
  },
  {
    name: 'string_identity: TYPE_STRING is BYTES', model: 'string_identity',
    expect: { value: { name: 'string_identity', versions: ['1'], platform: 'onnxruntime_onnx', inputs: [io('INPUT0', 'BYTES', [-1, 1])], outputs: [io('OUTPUT0', 'BYTES', [-1, 1])] } },
  },
  {
    name: 'cnn', model: 'cnn',
    expect: { value: { name: 'cnn', versions: ['1'], platform: 'onnxruntime_onnx', inputs: [io('image', 'FP32', [-1, 3, 32, 32])], outputs: [io('logits', 'FP32', [-1, 10])] } },
  },
  {
    name: 'slow: non-batched, no -1 added', model: 'slow',
    expect: { value: { name: 'slow', versions: ['1'], platform: 'onnxruntime_onnx', inputs: [io('x', 'FP32', [1])], outputs: [io('y', 'FP32', [1])] } },
  },
  {
    name: 'autocomplete: completed from the ONNX model', model: 'autocomplete',
    expect: { value: { name: 'autocomplete', versions: ['1'], platform: 'onnxruntime_onnx', inputs: [io('a', 'FP32', [-1, 3])], outputs: [io('b', 'FP32', [-1, 3])] } },
  },
  {
    name: 'identity_all: every datatype, non-batched', model: 'identity_all',
    expect: {
      value: {
        name: 'identity_all', versions: ['1'], platform: 'onnxruntime_onnx',
        inputs: IDENTITY_ALL_TYPES.map((t) => io(`IN_${t}`, t === 'STRING' ? 'BYTES' : t, [-1])),
        outputs: IDENTITY_ALL_TYPES.map((t) => io(`OUT_${t}`, t === 'STRING' ? 'BYTES' : t, [-1])),
      },
    },
  },
  { name: 'unknown model', model: 'x', expect: { error: invalidArg("Request for unknown model: 'x' is not found") } },
  { name: 'unknown version', model: 'simple', version: '7', expect: { error: invalidArg("Request for unknown model: 'simple' version 7 is not found") } },
  {
    name: 'non-numeric version', model: 'simple', version: 'abc',
    expect: {
      error: invalidArg({
        http: "invalid model version 'abc': a version must be a decimal number",
        grpc: "failed to get model version from specified version string 'abc' (details: stol), version should be an integral value > 0",
      }),
    },
  },
  { name: 'model that failed to load', model: 'bad_config', expect: { error: unavailable("Request for unknown model: 'bad_config' has no available versions") } },
];

export interface ReadyCase {
  name: string;
  model: string;
  version?: string;
  /** ready: HTTP 200 / gRPC ready=true. notReady: HTTP 400 with this message / gRPC ready=false. */
  expect: { ready: true } | { notReady: string } | { error: ExpectedError };
}

export const READY_CASES: readonly ReadyCase[] = [
  { name: 'ready model', model: 'simple', expect: { ready: true } },
  { name: 'ready model, explicit version', model: 'simple', version: '1', expect: { ready: true } },
  { name: 'second version of a two-version model', model: 'scaler', version: '2', expect: { ready: true } },
  { name: 'unknown model', model: 'x', expect: { notReady: "model 'x' is not ready" } },
  { name: 'unknown version', model: 'simple', version: '7', expect: { notReady: "model 'simple' version 7 is not ready" } },
  { name: 'model that failed to load', model: 'bad_config', expect: { notReady: "model 'bad_config' is not ready" } },
  { name: 'version that failed to load', model: 'mismatch', version: '1', expect: { notReady: "model 'mismatch' version 1 is not ready" } },
  {
    name: 'non-numeric version', model: 'simple', version: 'abc',
    expect: {
      error: invalidArg({
        http: "invalid model version 'abc': a version must be a decimal number",
        grpc: "failed to get model version from specified version string 'abc' (details: stol), version should be an integral value > 0",
      }),
    },
  },
];

export interface ConfigCase {
  name: string;
  model: string;
  version?: string;
  /** A subset of the config: every key given must be there with this value (arrays: same length). */
  expect: { subset: unknown } | { error: ExpectedError };
}

const cfgInput = (name: string, type: string, dims: number[]) => ({
  name, data_type: type, format: 'FORMAT_NONE', dims, is_shape_tensor: false, allow_ragged_batch: false, optional: false,
});
const cfgOutput = (name: string, type: string, dims: number[], label = '') => ({ name, data_type: type, dims, label_filename: label, is_shape_tensor: false });

export const CONFIG_CASES: readonly ConfigCase[] = [
  {
    name: 'simple: proto field names, enums as strings, dims as numbers, defaults filled',
    model: 'simple',
    expect: {
      subset: {
        name: 'simple', platform: 'onnxruntime_onnx', backend: 'onnxruntime', max_batch_size: 8,
        version_policy: { latest: { num_versions: 1 } },
        input: [cfgInput('INPUT0', 'TYPE_INT32', [16]), cfgInput('INPUT1', 'TYPE_INT32', [16])],
        output: [cfgOutput('OUTPUT0', 'TYPE_INT32', [16]), cfgOutput('OUTPUT1', 'TYPE_INT32', [16])],
        instance_group: [{ kind: 'KIND_CPU', count: 2 }],
        default_model_filename: 'model.onnx',
      },
    },
  },
  {
    name: 'scaler: version policy specific [1, 2]', model: 'scaler',
    expect: { subset: { name: 'scaler', max_batch_size: 16, version_policy: { specific: { versions: [1, 2] } } } },
  },
  {
    name: 'tabular: dynamic_batching with its defaults', model: 'tabular',
    expect: {
      subset: {
        name: 'tabular', max_batch_size: 64,
        dynamic_batching: {
          max_queue_delay_microseconds: 0, preferred_batch_size: [], preserve_ordering: false,
          default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: false, max_queue_size: 0 },
        },
        instance_group: [{ kind: 'KIND_CPU', count: 2 }],
      },
    },
  },
  {
    name: 'autocomplete: max_batch_size 4 and dynamic_batching added, io from the model', model: 'autocomplete',
    expect: {
      subset: {
        name: 'autocomplete', platform: 'onnxruntime_onnx', max_batch_size: 4, dynamic_batching: { max_queue_delay_microseconds: 0 },
        input: [cfgInput('a', 'TYPE_FP32', [3])], output: [cfgOutput('b', 'TYPE_FP32', [3])],
        instance_group: [{ kind: 'KIND_CPU', count: 2 }],
      },
    },
  },
  {
    name: 'classifier: label_filename kept', model: 'classifier',
    expect: { subset: { output: [cfgOutput('probs', 'TYPE_FP32', [5], 'labels.txt')] } },
  },
  {
    name: 'identity_all: TYPE_STRING, dims -1, max_batch_size 0', model: 'identity_all',
    expect: { subset: { max_batch_size: 0, input: IDENTITY_ALL_TYPES.map((t) => cfgInput(`IN_${t}`, `TYPE_${t}`, [-1])) } },
  },
  {
    name: 'simple_cached: response_cache enabled', model: 'simple_cached',
    expect: { subset: { name: 'simple_cached', response_cache: { enable: true } } },
  },
  { name: 'scaler version 2', model: 'scaler', version: '2', expect: { subset: { name: 'scaler' } } },
  { name: 'unknown model', model: 'x', expect: { error: invalidArg("Request for unknown model: 'x' is not found") } },
  { name: 'unknown version', model: 'simple', version: '7', expect: { error: invalidArg("Request for unknown model: 'simple' version 7 is not found") } },
];

export interface IndexEntry { name: string; version?: string; state: string; reason?: string }

/** Entries the repository index must hold (among others: every model of the three repositories). */
export const INDEX_ENTRIES: readonly IndexEntry[] = [
  {
    name: 'bad_config', state: 'UNAVAILABLE',
    reason: `${join(FIXTURE_REPO, 'bad_config', 'config.pbtxt')}:3:17: expected a value after ':', found ':'`,
  },
  {
    name: 'mismatch', version: '1', state: 'UNAVAILABLE',
    reason: "model 'mismatch': unable to find 'NOT_IN_MODEL' in the model's inputs (model has INPUT0, INPUT1)",
  },
  { name: 'scaler', version: '1', state: 'READY' },
  { name: 'scaler', version: '2', state: 'READY' },
  { name: 'simple', version: '1', state: 'READY' },
  { name: 'autocomplete', version: '1', state: 'READY' },
  { name: 'identity_all', version: '1', state: 'READY' },
];

/** Every model the three repositories hold, failed ones included. */
export const ALL_MODELS = [
  'accumulator', 'autocomplete', 'bad_config', 'classifier', 'cnn', 'cnn_fp16', 'cnn_int8', 'flaky', 'identity_all', 'identity_fp32_batched', 'mismatch',
  'scaler', 'simple', 'simple_cached', 'slow', 'string_identity', 'tabular', ...TYPED_DATATYPES.map(typedModelName),
].sort();

/** Keys perf_analyzer reads from each model_stats entry without checking they exist. */
export const PERF_ANALYZER_STAT_KEYS = ['name', 'version', 'inference_count', 'execution_count', 'inference_stats'] as const;
export const INFERENCE_STAT_KEYS = ['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss'] as const;

export const CLASSIFIER_LABELS = ['cat', 'dog', 'bird', 'fish', 'horse'] as const;
