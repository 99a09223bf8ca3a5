/** ONNX Runtime session options from a model config (Triton's onnxruntime backend keys). */
import type { ModelConfig } from '../config/model-config.js';
import { boolParam, intParam } from './params.js';
import type { SessionSettings } from '../types/run.js';

/**
 * Triton's onnxruntime backend: `optimization { graph { level } }` is -1 for basic,
 * 1 for extended, and anything else (0, the default) for all optimizations.
 */
function graphLevel(cfg: Readonly<ModelConfig>): SessionSettings['graphOptimizationLevel'] {
  const level = cfg.optimization?.graph?.level ?? 0;
  if (level === -1) return 'basic';
  if (level === 1) return 'extended';
  return 'all';
}

/**
 * Settings come from the config as written (before auto-complete): an instance
 * group that is not explicitly KIND_CPU runs on the CUDA provider when GPUs exist,
 * as Triton's KIND_AUTO does; ONNX Runtime falls back to CPU for unsupported ops.
 */
export function sessionSettings(cfg: Readonly<ModelConfig>, defaultIntraOp: number, gpuCount: number, soloIntraOp = 0): SessionSettings {
  const execMode = intParam(cfg, 'execution_mode', 0);
  const groups = cfg.instance_group;
  const wantsGpu = gpuCount > 0 && (groups.length === 0 || groups.some((g) => g.kind !== 'KIND_CPU'));
  const intra = intParam(cfg, 'intra_op_thread_count', defaultIntraOp);
  // A model whose config sets its own thread count gets exactly that, as in Triton.
  const explicit = (cfg.parameters['intra_op_thread_count']?.string_value ?? '0') !== '0';
  return {
    intraOpThreads: intra,
    soloIntraOpThreads: wantsGpu || explicit || soloIntraOp <= intra ? 0 : soloIntraOp,
    interOpThreads: intParam(cfg, 'inter_op_thread_count', 1),
    executionMode: execMode === 1 ? 'parallel' : 'sequential',
    graphOptimizationLevel: graphLevel(cfg),
    enableMemArena: boolParam(cfg, 'enable_mem_arena', true),
    enableMemPattern: boolParam(cfg, 'enable_mem_pattern', true),
    providers: wantsGpu ? ['cuda', 'cpu'] : ['cpu'],
  };
}
