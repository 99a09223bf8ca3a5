#!/usr/bin/env python3
"""Generate Osprey's committed ONNX models and Triton config.pbtxt files.

Run from the repository root with Debian's python (it has `onnx` and `numpy`):

    /usr/bin/python3 scripts/make_models.py

It (re)writes, idempotently and byte-for-byte reproducibly (fixed numpy seeds):

  model-repository/        the repository served by default
    tabular/               FP32 MLP scorer       features[64] -> score[1]
    simple/                Triton quick-start    INPUT0,INPUT1 int32[16] -> sum, diff
    string_identity/       BYTES identity        INPUT0 -> OUTPUT0
    scaler/                two versions (y = x*1, y = x*2), version_policy specific [1, 2]
    cnn/                   small CNN for benchmarks  image[3,32,32] -> logits[10]

  test/fixtures/models/    a second repository only the tests load
    identity_all/          one Identity per datatype, non-batched
    identity_fp32_batched/ FP32 identity with dynamic batching
    classifier/            Gemm+Softmax with labels.txt
    slow/                  ~150-300 ms per run (Loop of MatMuls), y == x
    autocomplete/          no config.pbtxt; b = a*3, batch dim 'N'
    flaky/                 Gather(table, idx) + x; out-of-range idx fails at run time
    scaler/                versions 1, 2 with version_policy latest { num_versions: 1 }
    bad_config/            config.pbtxt with a syntax error on line 3, column 17
    mismatch/              config names an input the model does not have

Tests and CI do NOT need python: all outputs are committed to git. Re-run this
script only when changing the models, then check them with
`node scripts/check_models.mjs`.

Graphs are built directly with onnx.helper (opset 17, IR version 8) so that
onnxruntime-node 1.30 loads them.
"""

import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MAIN_REPO = os.path.join(ROOT, "model-repository")
TEST_REPO = os.path.join(ROOT, "test", "fixtures", "models")

F32 = TensorProto.FLOAT


# --------------------------------------------------------------------------- helpers

def vi(name, elem_type, shape):
    """ValueInfo; shape entries are ints (fixed), strings (symbolic) or None (unknown)."""
    return helper.make_tensor_value_info(name, elem_type, shape)


def init(name, array):
    # np.array(..., copy) keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d)
    return numpy_helper.from_array(np.array(array, order="C", copy=True), name=name)


def make_model(graph_name, nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, graph_name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="osprey-make_models",
        producer_version="1",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def write_model(repo, name, version, model):
    d = os.path.join(repo, name, str(version))
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


def write_text(repo, name, filename, text):
    d = os.path.join(repo, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, filename), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def reset_model_dir(repo, name):
    """Remove a model directory so stale versions/files never linger."""
    shutil.rmtree(os.path.join(repo, name), ignore_errors=True)


def tensor_block(kind, tensors):
    """kind: 'input' or 'output'; tensors: list of dicts(name, data_type, dims, [label_filename])."""
    entries = []
    for t in tensors:
        dims = ", ".join(str(d) for d in t["dims"])
        lines = [
            "  {",
            f'    name: "{t["name"]}"',
            f"    data_type: {t['data_type']}",
            f"    dims: [ {dims} ]",
        ]
        if "label_filename" in t:
            lines.append(f'    label_filename: "{t["label_filename"]}"')
        lines.append("  }")
        entries.append("\n".join(lines))
    return f"{kind} [\n" + ",\n".join(entries) + "\n]\n"


def config(name, max_batch_size, inputs, outputs, extra=""):
    text = (
        f'name: "{name}"\n'
        f'platform: "onnxruntime_onnx"\n'
        f"max_batch_size: {max_batch_size}\n"
    )
    text += tensor_block("input", inputs)
    text += tensor_block("output", outputs)
    if extra:
        text += extra if extra.endswith("\n") else extra + "\n"
    return text


# --------------------------------------------------------------------------- models

def tabular_model():
    rng = np.random.default_rng(1001)
    w1 = (rng.standard_normal((64, 32)) / 8.0).astype(np.float32)
    b1 = (rng.standard_normal(32) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((32, 1)) / np.sqrt(32)).astype(np.float32)
    b2 = np.array([0.05], dtype=np.float32)
    nodes = [
        helper.make_node("MatMul", ["features", "w1"], ["h_mm"]),
        helper.make_node("Add", ["h_mm", "b1"], ["h_pre"]),
        helper.make_node("Relu", ["h_pre"], ["h"]),
        helper.make_node("MatMul", ["h", "w2"], ["o_mm"]),
        helper.make_node("Add", ["o_mm", "b2"], ["o_pre"]),
        helper.make_node("Sigmoid", ["o_pre"], ["score"]),
    ]
    return make_model(
        "tabular",
        nodes,
        [vi("features", F32, ["batch", 64])],
        [vi("score", F32, ["batch", 1])],
        [init("w1", w1), init("b1", b1), init("w2", w2), init("b2", b2)],
    )


def simple_model():
    nodes = [
        helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
        helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"]),
    ]
    i32 = TensorProto.INT32
    return make_model(
        "simple",
        nodes,
        [vi("INPUT0", i32, ["batch", 16]), vi("INPUT1", i32, ["batch", 16])],
        [vi("OUTPUT0", i32, ["batch", 16]), vi("OUTPUT1", i32, ["batch", 16])],
    )


def string_identity_model():
    s = TensorProto.STRING
    return make_model(
        "string_identity",
        [helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"])],
        [vi("INPUT0", s, ["batch", 1])],
        [vi("OUTPUT0", s, ["batch", 1])],
    )


def scaler_model(factor):
    return make_model(
        f"scaler_v{factor}",
        [helper.make_node("Mul", ["x", "factor"], ["y"])],
        [vi("x", F32, ["batch", 4])],
        [vi("y", F32, ["batch", 4])],
        [init("factor", np.array([float(factor)], dtype=np.float32))],
    )


def cnn_model():
    rng = np.random.default_rng(2002)

    def conv_w(cout, cin, k):
        fan_in = cin * k * k
        return (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    def bias(n):
        return (rng.standard_normal(n) * 0.01).astype(np.float32)

    # (cin, cout, stride)
    layers = [(3, 32, 1), (32, 64, 1), (64, 64, 1), (64, 64, 2), (64, 128, 2)]
    nodes, inits = [], []
    cur = "image"
    for i, (cin, cout, stride) in enumerate(layers, start=1):
        inits += [init(f"conv{i}_w", conv_w(cout, cin, 3)), init(f"conv{i}_b", bias(cout))]
        nodes.append(
            helper.make_node(
                "Conv",
                [cur, f"conv{i}_w", f"conv{i}_b"],
                [f"conv{i}"],
                kernel_shape=[3, 3],
                pads=[1, 1, 1, 1],
                strides=[stride, stride],
            )
        )
        nodes.append(helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"]))
        cur = f"relu{i}"
    c_last = layers[-1][1]
    nodes.append(helper.make_node("GlobalAveragePool", [cur], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], axis=1))
    fc_w = (rng.standard_normal((c_last, 10)) / np.sqrt(c_last)).astype(np.float32)
    fc_b = bias(10)
    inits += [init("fc_w", fc_w), init("fc_b", fc_b)]
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"]))
    return make_model(
        "cnn",
        nodes,
        [vi("image", F32, ["batch", 3, 32, 32])],
        [vi("logits", F32, ["batch", 10])],
        inits,
    )


# Triton type name -> (ONNX elem type)
IDENTITY_TYPES = [
    ("BOOL", TensorProto.BOOL),
    ("UINT8", TensorProto.UINT8),
    ("UINT16", TensorProto.UINT16),
    ("UINT32", TensorProto.UINT32),
    ("UINT64", TensorProto.UINT64),
    ("INT8", TensorProto.INT8),
    ("INT16", TensorProto.INT16),
    ("INT32", TensorProto.INT32),
    ("INT64", TensorProto.INT64),
    ("FP16", TensorProto.FLOAT16),
    ("FP32", TensorProto.FLOAT),
    ("FP64", TensorProto.DOUBLE),
    ("STRING", TensorProto.STRING),
]


def identity_all_model():
    nodes, ins, outs = [], [], []
    for t, et in IDENTITY_TYPES:
        nodes.append(helper.make_node("Identity", [f"IN_{t}"], [f"OUT_{t}"]))
        ins.append(vi(f"IN_{t}", et, [f"n_{t.lower()}"]))
        outs.append(vi(f"OUT_{t}", et, [f"n_{t.lower()}"]))
    return make_model("identity_all", nodes, ins, outs)


def identity_fp32_batched_model():
    return make_model(
        "identity_fp32_batched",
        [helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"])],
        [vi("INPUT0", F32, ["batch", "n"])],
        [vi("OUTPUT0", F32, ["batch", "n"])],
    )


def classifier_model():
    rng = np.random.default_rng(3003)
    w = (rng.standard_normal((8, 5)) / np.sqrt(8)).astype(np.float32)
    b = (rng.standard_normal(5) * 0.1).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    return make_model(
        "classifier",
        nodes,
        [vi("x", F32, ["batch", 8])],
        [vi("probs", F32, ["batch", 5])],
        [init("w", w), init("b", b)],
    )


SLOW_N = 256          # matrix size
SLOW_ITERS = 500      # Loop trip count; tuned for ~150-300 ms on one CPU thread


def slow_model():
    """y == x, but only after SLOW_ITERS [N,N]x[N,N] MatMuls that depend on x.

    s0 = tanh(x * W); s_{k+1} = tanh(s_k @ W); y = x + 0 * sum(s_K).
    tanh keeps every value in [-1, 1], so the sum is finite and 0 * sum == 0 exactly;
    the expensive chain depends on x, so it cannot be constant-folded.
    """
    rng = np.random.default_rng(4004)
    n = SLOW_N
    w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)

    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["s_in", "W"], ["mm"]),
            helper.make_node("Tanh", ["mm"], ["s_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        "slow_body",
        [
            vi("iter", TensorProto.INT64, []),
            vi("cond_in", TensorProto.BOOL, []),
            vi("s_in", F32, [n, n]),
        ],
        [vi("cond_out", TensorProto.BOOL, []), vi("s_out", F32, [n, n])],
    )
    nodes = [
        helper.make_node("Reshape", ["x", "shape_11"], ["x11"]),
        helper.make_node("Mul", ["x11", "W"], ["xw"]),
        helper.make_node("Tanh", ["xw"], ["s0"]),
        helper.make_node("Loop", ["trip", "cond", "s0"], ["s_final"], body=body),
        helper.make_node("ReduceSum", ["s_final"], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
        helper.make_node("Add", ["x", "nothing"], ["y"]),
    ]
    return make_model(
        "slow",
        nodes,
        [vi("x", F32, [1])],
        [vi("y", F32, [1])],
        [
            init("W", w),
            init("shape_11", np.array([1, 1], dtype=np.int64)),
            init("trip", np.array(SLOW_ITERS, dtype=np.int64)),
            init("cond", np.array(True, dtype=np.bool_)),
            init("zero", np.array(0.0, dtype=np.float32)),
        ],
    )


def autocomplete_model():
    return make_model(
        "autocomplete",
        [helper.make_node("Mul", ["a", "three"], ["b"])],
        [vi("a", F32, ["N", 3])],
        [vi("b", F32, ["N", 3])],
        [init("three", np.array([3.0], dtype=np.float32))],
    )


FLAKY_TABLE = np.array([10.0, 20.0, 30.0, 40.0], dtype=np.float32)


def flaky_model():
    nodes = [
        helper.make_node("Gather", ["table", "idx"], ["picked"], axis=0),
        helper.make_node("Add", ["picked", "x"], ["y"]),
    ]
    return make_model(
        "flaky",
        nodes,
        [vi("x", F32, ["batch", 1]), vi("idx", TensorProto.INT64, ["batch", 1])],
        [vi("y", F32, ["batch", 1])],
        [init("table", FLAKY_TABLE)],
    )


# --------------------------------------------------------------------------- configs

def cfg_tabular():
    return config(
        "tabular", 64,
        [dict(name="features", data_type="TYPE_FP32", dims=[64])],
        [dict(name="score", data_type="TYPE_FP32", dims=[1])],
        # Delay 0 (Triton's default): a request runs at once when an instance is free, and
        # batches form from what queues while both instances are busy; a delay would only
        # add latency at low load (measured: same peak throughput as 100 us).
        "dynamic_batching {\n  max_queue_delay_microseconds: 0\n}\n"
        "instance_group [\n  {\n    count: 2\n    kind: KIND_CPU\n  }\n]\n",
    )


SIMPLE_IO = (
    [
        dict(name="INPUT0", data_type="TYPE_INT32", dims=[16]),
        dict(name="INPUT1", data_type="TYPE_INT32", dims=[16]),
    ],
    [
        dict(name="OUTPUT0", data_type="TYPE_INT32", dims=[16]),
        dict(name="OUTPUT1", data_type="TYPE_INT32", dims=[16]),
    ],
)


def cfg_simple():
    return config("simple", 8, *SIMPLE_IO)


def cfg_string_identity():
    return config(
        "string_identity", 8,
        [dict(name="INPUT0", data_type="TYPE_STRING", dims=[1])],
        [dict(name="OUTPUT0", data_type="TYPE_STRING", dims=[1])],
    )


def cfg_scaler(policy):
    return config(
        "scaler", 16,
        [dict(name="x", data_type="TYPE_FP32", dims=[4])],
        [dict(name="y", data_type="TYPE_FP32", dims=[4])],
        f"version_policy: {policy}\n",
    )


# Batching and instances of cnn and its quantized variants (make_quantized_models.py);
# the comment it writes into the config says why.
CNN_BATCHING = (
    "# Hold a batch up to 300 us for more requests: without it, under load an instance that\n"
    "# frees up runs the requests coming back one by one while its twin runs a large batch\n"
    "# (test/models/cnn-batching.test.ts, bench/README.md \"cnn against the ORT ceiling\").\n"
    "dynamic_batching {\n  max_queue_delay_microseconds: 300\n}\n"
    "instance_group [\n  {\n    count: 2\n    kind: KIND_CPU\n  }\n]\n"
)


def cfg_cnn():
    return config(
        "cnn", 32,
        [dict(name="image", data_type="TYPE_FP32", dims=[3, 32, 32])],
        [dict(name="logits", data_type="TYPE_FP32", dims=[10])],
        CNN_BATCHING,
    )


def cfg_identity_all():
    return config(
        "identity_all", 0,
        [dict(name=f"IN_{t}", data_type=f"TYPE_{t}", dims=[-1]) for t, _ in IDENTITY_TYPES],
        [dict(name=f"OUT_{t}", data_type=f"TYPE_{t}", dims=[-1]) for t, _ in IDENTITY_TYPES],
    )


def cfg_identity_fp32_batched():
    return config(
        "identity_fp32_batched", 8,
        [dict(name="INPUT0", data_type="TYPE_FP32", dims=[-1])],
        [dict(name="OUTPUT0", data_type="TYPE_FP32", dims=[-1])],
        "dynamic_batching {\n  preferred_batch_size: [ 4, 8 ]\n"
        "  max_queue_delay_microseconds: 2000\n}\n",
    )


CLASSIFIER_LABELS = ["cat", "dog", "bird", "fish", "horse"]


def cfg_classifier():
    return config(
        "classifier", 8,
        [dict(name="x", data_type="TYPE_FP32", dims=[8])],
        [dict(name="probs", data_type="TYPE_FP32", dims=[5], label_filename="labels.txt")],
    )


def cfg_slow():
    return config(
        "slow", 0,
        [dict(name="x", data_type="TYPE_FP32", dims=[1])],
        [dict(name="y", data_type="TYPE_FP32", dims=[1])],
    )


def cfg_flaky():
    return config(
        "flaky", 8,
        [
            dict(name="x", data_type="TYPE_FP32", dims=[1]),
            dict(name="idx", data_type="TYPE_INT64", dims=[1]),
        ],
        [dict(name="y", data_type="TYPE_FP32", dims=[1])],
    )


# Line 3 is broken on purpose: "max_batch_size: : 8" -> the second ':' is at
# line 3, column 17 (1-based). Loader tests assert on file/line/column.
BAD_CONFIG = (
    'name: "bad_config"\n'
    'platform: "onnxruntime_onnx"\n'
    "max_batch_size: : 8\n"
    + tensor_block("input", SIMPLE_IO[0])
    + tensor_block("output", SIMPLE_IO[1])
)


def cfg_mismatch():
    # INPUT1 is replaced by NOT_IN_MODEL, which the ONNX graph does not have.
    return config(
        "mismatch", 8,
        [
            dict(name="INPUT0", data_type="TYPE_INT32", dims=[16]),
            dict(name="NOT_IN_MODEL", data_type="TYPE_INT32", dims=[16]),
        ],
        SIMPLE_IO[1],
    )


# --------------------------------------------------------------------------- main

def main():
    # ---- model-repository/
    r = MAIN_REPO
    os.makedirs(r, exist_ok=True)

    reset_model_dir(r, "tabular")
    write_model(r, "tabular", 1, tabular_model())
    write_text(r, "tabular", "config.pbtxt", cfg_tabular())

    reset_model_dir(r, "simple")
    write_model(r, "simple", 1, simple_model())
    write_text(r, "simple", "config.pbtxt", cfg_simple())

    reset_model_dir(r, "string_identity")
    write_model(r, "string_identity", 1, string_identity_model())
    write_text(r, "string_identity", "config.pbtxt", cfg_string_identity())

    reset_model_dir(r, "scaler")
    write_model(r, "scaler", 1, scaler_model(1))
    write_model(r, "scaler", 2, scaler_model(2))
    write_text(r, "scaler", "config.pbtxt", cfg_scaler("{ specific: { versions: [1, 2] } }"))

    reset_model_dir(r, "cnn")
    write_model(r, "cnn", 1, cnn_model())
    write_text(r, "cnn", "config.pbtxt", cfg_cnn())

    # ---- test/fixtures/models/
    t = TEST_REPO
    os.makedirs(t, exist_ok=True)

    reset_model_dir(t, "identity_all")
    write_model(t, "identity_all", 1, identity_all_model())
    write_text(t, "identity_all", "config.pbtxt", cfg_identity_all())

    reset_model_dir(t, "identity_fp32_batched")
    write_model(t, "identity_fp32_batched", 1, identity_fp32_batched_model())
    write_text(t, "identity_fp32_batched", "config.pbtxt", cfg_identity_fp32_batched())

    reset_model_dir(t, "classifier")
    write_model(t, "classifier", 1, classifier_model())
    write_text(t, "classifier", "config.pbtxt", cfg_classifier())
    write_text(t, "classifier", "labels.txt", "\n".join(CLASSIFIER_LABELS) + "\n")

    reset_model_dir(t, "slow")
    write_model(t, "slow", 1, slow_model())
    write_text(t, "slow", "config.pbtxt", cfg_slow())

    reset_model_dir(t, "autocomplete")
    write_model(t, "autocomplete", 1, autocomplete_model())  # no config.pbtxt on purpose

    reset_model_dir(t, "flaky")
    write_model(t, "flaky", 1, flaky_model())
    write_text(t, "flaky", "config.pbtxt", cfg_flaky())

    reset_model_dir(t, "scaler")
    write_model(t, "scaler", 1, scaler_model(1))
    write_model(t, "scaler", 2, scaler_model(2))
    write_text(t, "scaler", "config.pbtxt", cfg_scaler("{ latest: { num_versions: 1 } }"))

    reset_model_dir(t, "bad_config")
    write_model(t, "bad_config", 1, simple_model())
    write_text(t, "bad_config", "config.pbtxt", BAD_CONFIG)

    reset_model_dir(t, "mismatch")
    write_model(t, "mismatch", 1, simple_model())
    write_text(t, "mismatch", "config.pbtxt", cfg_mismatch())

    for repo in (r, t):
        for dirpath, _, files in sorted(os.walk(repo)):
            for fn in sorted(files):
                p = os.path.join(dirpath, fn)
                print(f"{os.path.getsize(p):>10}  {os.path.relpath(p, ROOT)}")


if __name__ == "__main__":
    main()
