/** Public surface of config/: what main.ts and the registry import. */
export * from './model-config.js';
export { ConfigParseError } from './errors.js';
export { parsePbtxt, type PbField, type PbList, type PbMessage, type PbScalar, type PbValue } from './pbtxt.js';
export { fromPbtxt } from './from-pbtxt.js';
export { fromJsonConfig } from './from-json.js';
export {
  buildModelConfig, completeConfig, ONNX_BACKEND, ONNX_PLATFORM,
  type BuildModelConfigArgs, type CompleteOptions,
} from './normalize.js';
export { deepFreeze, dimsCompatible, validateConfig, type ValidateOptions } from './validate.js';
export { configDataTypeToWire, wireDataTypeToConfig } from './datatype.js';
export {
  CliError, DEFAULT_OPTIONS, parseArgs, usageText,
  type LogFormat, type ModelControlMode, type ServerOptions,
} from './cli.js';
