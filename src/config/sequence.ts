/**
 * `sequence_batching`: completion (defaults) and validation against the ONNX model.
 * The one owner of what a control input and an implicit state are; the scheduler
 * (batching/sequence-scheduler.ts), its runner (registry/sequence-runner.ts) and the
 * worker (worker/sequence-state.ts) read the frozen result, never the raw file.
 *
 * Controls and states are model inputs (and state outputs) the client never sends:
 * the server fills them, so they are not part of the config's `input`/`output`.
 */
import type {
  ConfigDataType, DeepPartial, ModelConfig, OnnxModelInfo, OnnxTensorInfo, SequenceBatchingConfig,
  SequenceControlConfig, SequenceStateConfig,
} from './model-config.js';

type Fail = (detail: string) => never;

/** Triton's default when max_sequence_idle_microseconds is 0 or unset: one second. */
export const DEFAULT_SEQUENCE_IDLE_US = 1_000_000;

/** Model inputs the sequence batcher fills: controls and state inputs. */
export function sequenceOwnedInputs(sb: DeepPartial<SequenceBatchingConfig> | undefined): Set<string> {
  const out = new Set<string>();
  for (const c of sb?.control_input ?? []) if (c?.name) out.add(c.name);
  for (const s of sb?.state ?? []) if (s?.input_name) out.add(s.input_name);
  return out;
}

/** Model outputs the sequence batcher keeps (state outputs): never returned to clients. */
export function sequenceOwnedOutputs(sb: DeepPartial<SequenceBatchingConfig> | undefined): Set<string> {
  const out = new Set<string>();
  for (const s of sb?.state ?? []) if (s?.output_name) out.add(s.output_name);
  return out;
}

export function completeSequenceBatching(p: DeepPartial<SequenceBatchingConfig>): SequenceBatchingConfig {
  const idle = p.max_sequence_idle_microseconds ?? 0;
  const out: SequenceBatchingConfig = {
    max_sequence_idle_microseconds: idle > 0 ? idle : DEFAULT_SEQUENCE_IDLE_US,
    control_input: (p.control_input ?? []).map((c) => ({
      name: c?.name ?? '',
      control: (c?.control ?? []).map((k) => ({
        kind: k?.kind ?? 'CONTROL_SEQUENCE_START',
        int32_false_true: [...(k?.int32_false_true ?? [])],
        fp32_false_true: [...(k?.fp32_false_true ?? [])],
        bool_false_true: [...(k?.bool_false_true ?? [])],
        data_type: k?.data_type ?? 'TYPE_INVALID',
      })),
    })),
    state: (p.state ?? []).map((s) => ({
      input_name: s?.input_name ?? '',
      output_name: s?.output_name ?? '',
      data_type: s?.data_type ?? 'TYPE_INVALID',
      dims: [...(s?.dims ?? [])],
      initial_state: (s?.initial_state ?? []).map((i) => ({
        data_type: i?.data_type ?? 'TYPE_INVALID',
        dims: [...(i?.dims ?? [])],
        ...(i?.zero_data !== undefined ? { zero_data: i.zero_data } : {}),
        ...(i?.data_file !== undefined ? { data_file: i.data_file } : {}),
        name: i?.name ?? '',
      })),
      use_same_buffer_for_input_output: s?.use_same_buffer_for_input_output ?? false,
      use_growable_memory: s?.use_growable_memory ?? false,
    })),
  };
  if (p.oldest !== undefined) {
    out.oldest = {
      max_candidate_sequences: p.oldest.max_candidate_sequences ?? 0,
      preferred_batch_size: [...(p.oldest.preferred_batch_size ?? [])],
      max_queue_delay_microseconds: p.oldest.max_queue_delay_microseconds ?? 0,
      preserve_ordering: p.oldest.preserve_ordering ?? false,
    };
  } else {
    out.direct = {
      max_queue_delay_microseconds: p.direct?.max_queue_delay_microseconds ?? 0,
      minimum_slot_utilization: p.direct?.minimum_slot_utilization ?? 0,
    };
  }
  return out;
}

const CORRID_TYPES: readonly ConfigDataType[] = ['TYPE_UINT64', 'TYPE_INT64', 'TYPE_UINT32', 'TYPE_INT32', 'TYPE_STRING'];

const KIND_NAME: Record<SequenceControlConfig['kind'], string> = {
  CONTROL_SEQUENCE_START: 'START',
  CONTROL_SEQUENCE_READY: 'READY',
  CONTROL_SEQUENCE_END: 'END',
  CONTROL_SEQUENCE_CORRID: 'CORRID',
};

/** The tensor type a boolean control is sent as, from which *_false_true it sets. */
export function controlTensorType(c: SequenceControlConfig): ConfigDataType {
  if (c.kind === 'CONTROL_SEQUENCE_CORRID') return c.data_type;
  if (c.int32_false_true.length > 0) return 'TYPE_INT32';
  if (c.fp32_false_true.length > 0) return 'TYPE_FP32';
  return 'TYPE_BOOL';
}

const shapeText = (dims: readonly number[]): string => `[${dims.join(',')}]`;

function compatible(model: readonly number[], want: readonly number[]): boolean {
  return model.length === want.length && model.every((d, i) => d === -1 || want[i] === -1 || d === want[i]);
}

/** Checks `cfg.sequence_batching` (already completed) against itself, the config and the model. */
export function validateSequenceBatching(cfg: ModelConfig, onnx: OnnxModelInfo, fail: Fail): void {
  const sb = cfg.sequence_batching;
  if (sb === undefined) return;
  if (cfg.dynamic_batching !== undefined) {
    fail("cannot specify both 'dynamic_batching' and 'sequence_batching'");
  }
  const inputs = new Map(onnx.inputs.map((t) => [t.name, t]));
  const outputs = new Map(onnx.outputs.map((t) => [t.name, t]));
  const configured = new Set(cfg.input.map((i) => i.name));
  const batchDim = cfg.max_batch_size > 0 ? [-1] : [];
  const taken = new Set<string>();
  const kinds = new Set<string>();

  const modelInput = (name: string, what: string): OnnxTensorInfo => {
    if (name === '') fail(`${what} must specify 'name'`);
    if (taken.has(name)) fail(`sequence batching input '${name}' is specified more than once`);
    taken.add(name);
    if (configured.has(name)) fail(`${what} '${name}' must not also be listed in 'input': the server fills it`);
    const info = inputs.get(name);
    if (info === undefined) {
      fail(`unable to find ${what} '${name}' in the model's inputs (model has ${onnx.inputs.map((t) => t.name).join(', ') || 'none'})`);
    }
    return info;
  };

  for (const ci of sb.control_input) {
    const info = modelInput(ci.name, 'sequence batching control input');
    if (ci.control.length !== 1) {
      fail(`sequence batching control input '${ci.name}' must specify exactly one 'control', found ${ci.control.length}`);
    }
    const c = ci.control[0]!;
    const kind = KIND_NAME[c.kind];
    if (kinds.has(kind)) fail(`sequence batching specifies multiple ${kind} control inputs`);
    kinds.add(kind);
    const where = `sequence batching control '${ci.name}' (${kind})`;
    const lists = [c.int32_false_true, c.fp32_false_true, c.bool_false_true].filter((l) => l.length > 0);
    if (c.kind === 'CONTROL_SEQUENCE_CORRID') {
      if (lists.length > 0) fail(`${where} must not specify int32_false_true, fp32_false_true or bool_false_true`);
      if (!CORRID_TYPES.includes(c.data_type)) {
        fail(`${where} must specify 'data_type' TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 or TYPE_STRING, found ${c.data_type}`);
      }
    } else {
      if (lists.length !== 1) fail(`${where} must specify exactly one of int32_false_true, fp32_false_true or bool_false_true`);
      if (lists[0]!.length !== 2) fail(`${where} false_true must have exactly 2 entries [false, true], found ${lists[0]!.length}`);
      if (c.data_type !== 'TYPE_INVALID') fail(`${where} must not specify 'data_type'`);
    }
    const type = controlTensorType(c);
    if (info.data_type !== type) {
      fail(`${where} is sent as ${type}, but the model input '${ci.name}' is ${info.data_type}`);
    }
    const want = [...batchDim, 1];
    if (!compatible(info.dims, want)) {
      fail(`${where}: the model expects shape ${shapeText(info.dims)} but the control tensor has shape ${shapeText(want)}`);
    }
  }

  const outTaken = new Set<string>();
  for (const st of sb.state) validateState(st, modelInput, outputs, outTaken, cfg, batchDim, fail);

  const d = sb.direct;
  if (d !== undefined && !(d.minimum_slot_utilization >= 0 && d.minimum_slot_utilization <= 1)) {
    fail(`sequence batching minimum_slot_utilization must be in [0, 1], found ${d.minimum_slot_utilization}`);
  }
  const o = sb.oldest;
  if (o !== undefined) {
    if (o.max_candidate_sequences < 0) fail('sequence batching max_candidate_sequences must be non-negative');
    const most = Math.max(1, cfg.max_batch_size);
    for (const size of o.preferred_batch_size) {
      if (size <= 0) fail('sequence batching preferred batch size must be positive');
      if (size > most) fail('sequence batching preferred batch size must be <= max batch size');
    }
  }
}

function validateState(
  st: SequenceStateConfig, modelInput: (name: string, what: string) => OnnxTensorInfo,
  outputs: ReadonlyMap<string, OnnxTensorInfo>, outTaken: Set<string>, cfg: ModelConfig,
  batchDim: number[], fail: Fail,
): void {
  const info = modelInput(st.input_name, 'sequence batching state input');
  const where = `sequence batching state '${st.input_name}'`;
  if (st.output_name === '') fail(`${where} must specify 'output_name'`);
  if (outTaken.has(st.output_name)) fail(`sequence batching state output '${st.output_name}' is specified more than once`);
  outTaken.add(st.output_name);
  if (cfg.output.some((o) => o.name === st.output_name)) {
    fail(`${where}: output '${st.output_name}' must not also be listed in 'output': the server keeps it`);
  }
  const out = outputs.get(st.output_name);
  if (out === undefined) fail(`unable to find sequence batching state output '${st.output_name}' in the model's outputs`);
  if (st.data_type === 'TYPE_INVALID' || st.data_type === 'TYPE_STRING') {
    fail(`${where} must specify a fixed-size 'data_type', found ${st.data_type}`);
  }
  if (st.dims.length === 0) fail(`${where} must specify 'dims'`);
  if (st.dims.some((n) => n < 1 && n !== -1)) fail(`${where} dimension must be integer >= 1, or -1 to indicate a variable-size dimension`);
  for (const [name, t] of [[st.input_name, info], [st.output_name, out]] as const) {
    if (t.data_type !== st.data_type) fail(`${where} has data_type ${st.data_type}, but the model's '${name}' is ${t.data_type}`);
    const full = [...batchDim, ...st.dims];
    if (!compatible(t.dims, full)) fail(`${where}: the model's '${name}' has shape ${shapeText(t.dims)}, the state ${shapeText(full)}`);
  }
  if (st.use_growable_memory) fail(`${where} sets use_growable_memory, which is not supported`);
  if (st.initial_state.length > 1) fail(`${where} may specify at most one initial_state`);
  const init = st.initial_state[0];
  if (init !== undefined) {
    if (init.data_file !== undefined) fail(`${where} initial_state data_file is not supported; use zero_data`);
    if (init.zero_data !== true) fail(`${where} initial_state must set zero_data: true`);
    if (init.data_type !== st.data_type) fail(`${where} initial_state data_type ${init.data_type} differs from the state's ${st.data_type}`);
    if (init.dims.some((n) => n < 1)) fail(`${where} initial_state dims must all be >= 1`);
    if (!compatible(st.dims, init.dims)) fail(`${where} initial_state dims ${shapeText(init.dims)} do not match the state's ${shapeText(st.dims)}`);
  }
}

/**
 * Shape (without the batch dim) of a state's value at START: the initial state's dims,
 * else the state's dims with variable ones as 1 (Triton: "garbage, variable dims -> 1";
 * here zeros, so a fresh sequence is deterministic).
 */
export function initialStateDims(st: SequenceStateConfig): number[] {
  const init = st.initial_state[0];
  return init !== undefined ? init.dims.slice() : st.dims.map((d) => (d === -1 ? 1 : d));
}
