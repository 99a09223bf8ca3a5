#!/usr/bin/env python3
"""Generate the sequence-batcher models (stateful, Triton `sequence_batching`).

Run from the repository root with Debian's python (it has `onnx`):

    /usr/bin/python3 scripts/make_sequence_models.py

It (re)writes, reproducibly:

  test/fixtures/sequence/     a repository only the sequence tests load
    seq_acc/                  accumulator like Triton's simple_sequence (direct)
    seq_acc_oldest/           the same model file, `oldest` strategy
    seq_dyna/                 "dyna": END + uint64 CORRID, adds the id on the last request
    seq_str/                  string CORRID + order-sensitive implicit state (FP32 [2])
  model-repository/accumulator/  seq_acc's model, bundled (README has a curl example)

An ONNX graph cannot keep anything between runs, so every model here carries its
running value in an implicit state (`state { input_name, output_name }`): the server
feeds the state output of request i back as the state input of request i+1, and
keeps it in the worker thread that holds the sequence's slot.

Semantics (the tests compute the expected values from these):
  seq_acc:   ACC = (START ? 0 : ACC_IN) + INPUT            OUTPUT = ACC (INT32 [1])
             rows with READY = 0 leave the state as it was (ACC_OUT = ACC_IN)
  seq_dyna:  the same, and OUTPUT = ACC + int32(CORRID) on the row whose END is 1.0
             (START int32, END fp32, READY bool, CORRID uint64: every control form)
  seq_str:   S = (START ? 0 : S_IN) * 0.5 + INPUT          OUTPUT = S (FP32 [2])
             ID = CORRID (BYTES [1], the string correlation id echoed)

Tests and CI do NOT need python: the outputs are committed.
"""

import os
import shutil

import onnx
from onnx import TensorProto, helper

OPSET = 17
IR_VERSION = 8

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SEQ_REPO = os.path.join(ROOT, "test", "fixtures", "sequence")
MAIN_REPO = os.path.join(ROOT, "model-repository")

I32 = TensorProto.INT32
F32 = TensorProto.FLOAT
BOOL = TensorProto.BOOL
U64 = TensorProto.UINT64
STR = TensorProto.STRING


def vi(name, t, shape):
    return helper.make_tensor_value_info(name, t, shape)


def const(name, t, vals, dims=()):
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(name + "_v", t, list(dims), vals))


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="osprey")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def accumulator(dyna):
    """INT32 accumulator. dyna adds END (fp32), READY as bool and a uint64 CORRID."""
    nodes = [
        const("zero", I32, [0]),
        helper.make_node("Cast", ["START"], ["start_b"], to=BOOL),
        helper.make_node("Where", ["start_b", "zero", "ACC_IN"], ["base"]),
        helper.make_node("Add", ["base", "INPUT"], ["acc"]),
    ]
    if dyna:
        ready = "READY"  # already bool
        nodes += [
            helper.make_node("Cast", ["END"], ["end_b"], to=BOOL),
            helper.make_node("Cast", ["CORRID"], ["corr32"], to=I32),
            helper.make_node("Add", ["acc", "corr32"], ["acc_id"]),
            helper.make_node("Where", ["end_b", "acc_id", "acc"], ["OUTPUT"]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["acc"], ["OUTPUT"]))
        nodes.append(helper.make_node("Cast", ["READY"], ["ready_b"], to=BOOL))
        ready = "ready_b"
    nodes.append(helper.make_node("Where", [ready, "acc", "ACC_IN"], ["ACC_OUT"]))
    inputs = [vi("INPUT", I32, ["N", 1]), vi("START", I32, ["N", 1])]
    if dyna:
        inputs += [vi("END", F32, ["N", 1]), vi("READY", BOOL, ["N", 1]), vi("CORRID", U64, ["N", 1])]
    else:
        inputs += [vi("READY", I32, ["N", 1])]
    inputs.append(vi("ACC_IN", I32, ["N", 1]))
    outputs = [vi("OUTPUT", I32, ["N", 1]), vi("ACC_OUT", I32, ["N", 1])]
    return helper.make_graph(nodes, "seq_dyna" if dyna else "seq_acc", inputs, outputs)


def string_state():
    nodes = [
        const("zero", F32, [0.0]),
        const("half", F32, [0.5]),
        helper.make_node("Where", ["START", "zero", "S_IN"], ["base"]),
        helper.make_node("Mul", ["base", "half"], ["decayed"]),
        helper.make_node("Add", ["decayed", "INPUT"], ["OUTPUT"]),
        helper.make_node("Identity", ["OUTPUT"], ["S_OUT"]),
        helper.make_node("Identity", ["CORRID"], ["ID"]),
    ]
    inputs = [vi("INPUT", F32, ["N", 2]), vi("START", BOOL, ["N", 1]), vi("CORRID", STR, ["N", 1]),
              vi("S_IN", F32, ["N", 2])]
    outputs = [vi("OUTPUT", F32, ["N", 2]), vi("S_OUT", F32, ["N", 2]), vi("ID", STR, ["N", 1])]
    return helper.make_graph(nodes, "seq_str", inputs, outputs)


def control(name, kind, form=None, values=None, data_type=None):
    body = f"kind: {kind}"
    if form is not None:
        body += f" {form}: [ {', '.join(values)} ]"
    if data_type is not None:
        body += f" data_type: {data_type}"
    return f"""    {{
      name: "{name}"
      control [ {{ {body} }} ]
    }}"""


def acc_config(name, strategy, idle_us=5000000, instances=1):
    controls = ",\n".join([
        control("START", "CONTROL_SEQUENCE_START", "int32_false_true", ["0", "1"]),
        control("READY", "CONTROL_SEQUENCE_READY", "int32_false_true", ["0", "1"]),
    ])
    return f"""name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: 4
sequence_batching {{
  max_sequence_idle_microseconds: {idle_us}
  {strategy}
  control_input [
{controls}
  ]
  state [
    {{
      input_name: "ACC_IN"
      output_name: "ACC_OUT"
      data_type: TYPE_INT32
      dims: [ 1 ]
      initial_state {{ data_type: TYPE_INT32 dims: [ 1 ] zero_data: true name: "zero" }}
    }}
  ]
}}
input [ {{ name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] }} ]
output [ {{ name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] }} ]
instance_group [ {{ kind: KIND_CPU count: {instances} }} ]
"""


DYNA_CONFIG = """name: "seq_dyna"
platform: "onnxruntime_onnx"
max_batch_size: 4
sequence_batching {
  max_sequence_idle_microseconds: 5000000
  direct { }
  control_input [
%s
  ]
  state [ { input_name: "ACC_IN" output_name: "ACC_OUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
}
input [ { name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
instance_group [ { kind: KIND_CPU count: 2 } ]
""" % ",\n".join([
    control("START", "CONTROL_SEQUENCE_START", "int32_false_true", ["0", "1"]),
    control("END", "CONTROL_SEQUENCE_END", "fp32_false_true", ["0", "1"]),
    control("READY", "CONTROL_SEQUENCE_READY", "bool_false_true", ["false", "true"]),
    control("CORRID", "CONTROL_SEQUENCE_CORRID", data_type="TYPE_UINT64"),
])

STR_CONFIG = """name: "seq_str"
platform: "onnxruntime_onnx"
max_batch_size: 4
sequence_batching {
  max_sequence_idle_microseconds: 5000000
  control_input [
%s
  ]
  state [
    {
      input_name: "S_IN"
      output_name: "S_OUT"
      data_type: TYPE_FP32
      dims: [ 2 ]
      initial_state { data_type: TYPE_FP32 dims: [ 2 ] zero_data: true name: "zeros" }
    }
  ]
}
instance_group [ { kind: KIND_CPU count: 1 } ]
""" % ",\n".join([
    control("START", "CONTROL_SEQUENCE_START", "bool_false_true", ["false", "true"]),
    control("CORRID", "CONTROL_SEQUENCE_CORRID", data_type="TYPE_STRING"),
])


def main():
    shutil.rmtree(SEQ_REPO, ignore_errors=True)
    save(accumulator(False), os.path.join(SEQ_REPO, "seq_acc", "1", "model.onnx"))
    write(os.path.join(SEQ_REPO, "seq_acc", "config.pbtxt"), acc_config("seq_acc", "direct { }"))
    save(accumulator(False), os.path.join(SEQ_REPO, "seq_acc_oldest", "1", "model.onnx"))
    write(os.path.join(SEQ_REPO, "seq_acc_oldest", "config.pbtxt"), acc_config(
        "seq_acc_oldest", "oldest { max_candidate_sequences: 8 preferred_batch_size: [ 4 ] }"))
    save(accumulator(True), os.path.join(SEQ_REPO, "seq_dyna", "1", "model.onnx"))
    write(os.path.join(SEQ_REPO, "seq_dyna", "config.pbtxt"), DYNA_CONFIG)
    save(string_state(), os.path.join(SEQ_REPO, "seq_str", "1", "model.onnx"))
    write(os.path.join(SEQ_REPO, "seq_str", "config.pbtxt"), STR_CONFIG)

    bundled = os.path.join(MAIN_REPO, "accumulator")
    shutil.rmtree(bundled, ignore_errors=True)
    save(accumulator(False), os.path.join(bundled, "1", "model.onnx"))
    write(os.path.join(bundled, "config.pbtxt"), acc_config("accumulator", "direct { }", instances=2))


if __name__ == "__main__":
    main()
