/**
 * The JS shapes of the gRPC inference messages (proto/grpc_service.proto) as
 * @grpc/proto-loader hands them over with the options in `GRPC_LOADER_OPTIONS`:
 * proto field names, 64-bit integers as decimal strings on decode (exact; numbers,
 * strings and Longs are all accepted on encode), enums as strings, every field
 * present with its default, `bytes` as Buffer views into the received message, and
 * a oneof's case name in a virtual field (`parameter_choice`).
 *
 * Only the messages the codecs touch are typed here; the others pass through the
 * front end as plain objects.
 */

/** Options for @grpc/proto-loader, shared by the server and the test clients. */
export const GRPC_LOADER_OPTIONS = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});

/** A 64-bit integer field: a decimal string when decoded; number or string when encoded. */
export type Int64 = string | number;

export type InferParameterChoice =
  | 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';

export interface InferParameterMsg {
  /** Which member is set; absent when none is. */
  parameter_choice?: InferParameterChoice;
  bool_param?: boolean;
  int64_param?: Int64;
  string_param?: string;
  double_param?: number;
  uint64_param?: Int64;
}

export type InferParametersMsg = Record<string, InferParameterMsg>;

export interface InferTensorContentsMsg {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: Int64[];
  uint_contents: number[];
  uint64_contents: Int64[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Uint8Array[];
}

export interface InferInputTensorMsg {
  name: string;
  datatype: string;
  shape: Int64[];
  parameters: InferParametersMsg;
  /** null when the input carries no typed contents. */
  contents: Partial<InferTensorContentsMsg> | null;
}

export interface InferRequestedOutputTensorMsg {
  name: string;
  parameters: InferParametersMsg;
}

export interface ModelInferRequestMsg {
  model_name: string;
  model_version: string;
  id: string;
  parameters: InferParametersMsg;
  inputs: InferInputTensorMsg[];
  outputs: InferRequestedOutputTensorMsg[];
  raw_input_contents: Uint8Array[];
}

export interface InferOutputTensorMsg {
  name: string;
  datatype: string;
  shape: Int64[];
  parameters?: InferParametersMsg;
  contents?: Partial<InferTensorContentsMsg> | null;
}

export interface ModelInferResponseMsg {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: InferParametersMsg;
  outputs: InferOutputTensorMsg[];
  raw_output_contents: Uint8Array[];
}

export interface ModelStreamInferResponseMsg {
  error_message: string;
  infer_response: ModelInferResponseMsg | null;
}
