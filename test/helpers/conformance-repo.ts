/**
 * A temporary third model repository for the conformance suite, written at test
 * time so no binary lands in git:
 *
 * - `typed_<T>`: one single-input Identity model per datatype that has a typed
 *   form (every datatype but FP16/BF16). `identity_all` needs all 13 of its inputs
 *   in one request and FP16 travels only raw, so it can never be sent in gRPC's
 *   typed `contents` (a request may not mix raw and typed); these models can.
 *   The ONNX bytes are encoded by hand below (ModelProto, IR 8, opset 17).
 * - `simple_cached`: the bundled `simple` with `response_cache { enable: true }`,
 *   for the response-cache case (the server must be started with a cache).
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataType } from '../../src/types/tensor.js';
import { BUNDLED_REPO } from './server.js';

/** ONNX TensorProto.DataType for every datatype with a typed form. */
const ONNX_ELEM: Partial<Record<DataType, number>> = {
  FP32: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, BYTES: 8, BOOL: 9,
  FP64: 11, UINT32: 12, UINT64: 13,
};

export const TYPED_DATATYPES = Object.keys(ONNX_ELEM) as DataType[];

export const typedModelName = (t: DataType): string => `typed_${t}`;

// ---- a minimal protobuf writer (varint and length-delimited fields only) ----

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

const intField = (field: number, v: number): number[] => [...varint(field << 3), ...varint(v)];

function bytesField(field: number, payload: number[] | string): number[] {
  const bytes = typeof payload === 'string' ? [...Buffer.from(payload, 'utf8')] : payload;
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
}

/** ValueInfoProto { name, type { tensor_type { elem_type, shape { dim { dim_param "n" } } } } }. */
function valueInfo(name: string, elemType: number): number[] {
  const shape = bytesField(1, bytesField(2, 'n'));
  const tensorType = [...intField(1, elemType), ...bytesField(2, shape)];
  return [...bytesField(1, name), ...bytesField(2, bytesField(1, tensorType))];
}

/** ModelProto of `OUT = Identity(IN)` with a 1-D dynamic shape. */
export function identityOnnx(input: string, output: string, elemType: number): Uint8Array {
  const node = [...bytesField(1, input), ...bytesField(2, output), ...bytesField(4, 'Identity')];
  const graph = [
    ...bytesField(1, node),
    ...bytesField(2, 'identity'),
    ...bytesField(11, valueInfo(input, elemType)),
    ...bytesField(12, valueInfo(output, elemType)),
  ];
  const model = [
    ...intField(1, 8), // ir_version
    ...bytesField(2, 'osprey-conformance'), // producer_name
    ...bytesField(7, graph),
    ...bytesField(8, intField(2, 17)), // opset_import { version: 17 } (default domain)
  ];
  return Uint8Array.from(model);
}

function typedConfig(t: DataType): string {
  const cfgType = t === 'BYTES' ? 'TYPE_STRING' : `TYPE_${t}`;
  return [
    `name: "${typedModelName(t)}"`,
    'platform: "onnxruntime_onnx"',
    'max_batch_size: 0',
    `input [ { name: "IN_${t}" data_type: ${cfgType} dims: [ -1 ] } ]`,
    `output [ { name: "OUT_${t}" data_type: ${cfgType} dims: [ -1 ] } ]`,
    'instance_group [ { count: 1 kind: KIND_CPU } ]',
    '',
  ].join('\n');
}

const SIMPLE_CACHED_CONFIG = `name: "simple_cached"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] },
  { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
]
output [
  { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] },
  { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
]
response_cache { enable: true }
`;

export interface ConformanceRepo {
  dir: string;
  remove(): Promise<void>;
}

export async function createConformanceRepo(): Promise<ConformanceRepo> {
  const dir = await mkdtemp(join(tmpdir(), 'osprey-conformance-'));
  for (const t of TYPED_DATATYPES) {
    const m = join(dir, typedModelName(t));
    await mkdir(join(m, '1'), { recursive: true });
    await writeFile(join(m, 'config.pbtxt'), typedConfig(t));
    await writeFile(join(m, '1', 'model.onnx'), identityOnnx(`IN_${t}`, `OUT_${t}`, ONNX_ELEM[t]!));
  }
  const cached = join(dir, 'simple_cached');
  await mkdir(join(cached, '1'), { recursive: true });
  await writeFile(join(cached, 'config.pbtxt'), SIMPLE_CACHED_CONFIG);
  await copyFile(join(BUNDLED_REPO, 'simple', '1', 'model.onnx'), join(cached, '1', 'model.onnx'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
