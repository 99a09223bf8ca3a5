/**
 * The sequence part of a request to a sequence model: `sequence_id` (uint64 or
 * string), `sequence_start`, `sequence_end` from the request parameters (both front
 * ends decode them into `InferenceRequest.parameters`), checked with the texts
 * Triton's sequence batcher answers with.
 */
import { configDataTypeToWire } from '../config/datatype.js';
import type { ModelConfig } from '../config/model-config.js';
import { InvalidArgument, Unsupported } from '../errors/errors.js';
import type { Params, ParamValue } from '../types/tensor.js';
import type { CorrId } from '../batching/sequence-types.js';

export interface SequenceFlags {
  corrId: CorrId;
  start: boolean;
  end: boolean;
}

const MAX_STRING_ID = 128;

function flag(v: ParamValue | undefined, key: string): boolean {
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  throw new InvalidArgument(`parameter '${key}' must be a bool`);
}

/**
 * The id as given, without checking it against a model: a bigint (uint64; a negative
 * int64 from gRPC wraps to its uint64 value, as Triton's cast does), a string, or
 * undefined when absent or not an id type.
 */
export function rawCorrId(params: Params): CorrId | undefined {
  const v = params.sequence_id;
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt.asUintN(64, BigInt(v));
  return undefined;
}

/** Checks the sequence parameters of a request to a sequence model. `batchSize` is the request's. */
export function sequenceFlags(cfg: Readonly<ModelConfig>, requestId: string, params: Params, batchSize: number): SequenceFlags {
  const v = params.sequence_id;
  if (v !== undefined && typeof v !== 'string' && rawCorrId(params) === undefined) {
    throw new InvalidArgument("Unable to parse 'sequence_id', expecting uint64 or string");
  }
  const id = rawCorrId(params);
  if (id === undefined || id === 0n || id === '') {
    throw new InvalidArgument(`inference request to model '${cfg.name}' must specify a non-zero or non-empty correlation ID`);
  }
  // Triton counts the id's bytes (a C++ std::string), not its characters.
  if (typeof id === 'string' && Buffer.byteLength(id) > MAX_STRING_ID) {
    throw new Unsupported(`string correlation ID cannot be longer than ${MAX_STRING_ID} characters`);
  }
  const corrid = cfg.sequence_batching?.control_input.find((c) => c.control[0]?.kind === 'CONTROL_SEQUENCE_CORRID');
  if (corrid !== undefined) {
    const wantString = corrid.control[0]!.data_type === 'TYPE_STRING';
    if (wantString !== (typeof id === 'string')) {
      const got = typeof id === 'string' ? 'BYTES' : 'UINT64';
      const want = configDataTypeToWire(corrid.control[0]!.data_type);
      throw new InvalidArgument(`[request id: ${requestId === '' ? '<id_unknown>' : requestId}] sequence batching control '${corrid.name}' data-type is '${got}', but model '${cfg.name}' expects '${want}'`);
    }
  }
  if (cfg.max_batch_size > 0 && batchSize !== 1) {
    throw new InvalidArgument(`inference request to model '${cfg.name}' must specify batch-size 1 due to requirements of sequence batcher`);
  }
  return { corrId: id, start: flag(params.sequence_start, 'sequence_start'), end: flag(params.sequence_end, 'sequence_end') };
}
