#!/usr/bin/env python3
"""Generate the half-precision and INT8 (QDQ) variants of the bundled `cnn` model.

Run from the repository root with Debian's python (python3-onnx, python3-torch):

    /usr/bin/python3 scripts/make_quantized_models.py

It (re)writes, byte-for-byte reproducibly:

  model-repository/cnn_fp16/   the cnn with FP16 weights, input and output
                               (image FP16 [3,32,32] -> logits FP16 [10])
  model-repository/cnn_int8/   the cnn quantized to INT8 in QDQ form
                               (image FP32 [3,32,32] -> logits FP32 [10])
  test/fixtures/quantized/     fixed inputs and the FP32 reference logits computed
                               here by torch, which the tests compare all three models with

Both start from `make_models.cnn_model()`, so they hold the very weights of the
committed `cnn`. There is no onnxruntime Python package on Debian, so the INT8 model
is quantized here rather than with onnxruntime.quantization:

  - weights: int8, symmetric (zero point 0), one scale per output channel
    (per tensor for the final Gemm); biases: int32 with scale = input scale x weight
    scale, as QLinearConv expects;
  - activations: uint8, asymmetric, scale and zero point from the min/max that a
    calibration set reaches at each tensor (torch forward hooks on a torch copy of
    the network). After a ReLU the range starts at 0, so the zero point is 0 and
    ONNX Runtime drops the ReLU and fuses DequantizeLinear -> Conv -> QuantizeLinear
    into QLinearConv (U8S8, what its x86 kernels are fastest at).

The calibration set is 128 images of uniform [0, 1) values (seed 7), the distribution
the bench's load generator sends (`--input-data random`). The test inputs come from
a different seed (11) so the tests do not score the calibration data.
"""

import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_models as mm  # noqa: E402  (same directory; shares the cnn weights and helpers)

F16 = TensorProto.FLOAT16
U8 = TensorProto.UINT8
CALIBRATION_SEED, CALIBRATION_N = 7, 128
TEST_SEED, TEST_N = 11, 8
FIXTURE_DIR = os.path.join(mm.ROOT, "test", "fixtures", "quantized")


# --------------------------------------------------------------------------- the FP32 network

def cnn_parts():
    """The committed cnn as (graph, initializers by name, conv layers in order)."""
    model = mm.cnn_model()
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    convs = []
    for node in model.graph.node:
        if node.op_type == "Conv":
            strides = next(a.ints for a in node.attribute if a.name == "strides")
            convs.append((node.input[1], node.input[2], int(strides[0])))
    return model, inits, convs


class TorchCnn(torch.nn.Module):
    """The same network in torch, to compute reference outputs and activation ranges."""

    def __init__(self, inits, convs):
        super().__init__()
        self.convs = torch.nn.ModuleList()
        for w_name, b_name, stride in convs:
            w = inits[w_name]
            conv = torch.nn.Conv2d(w.shape[1], w.shape[0], 3, stride=stride, padding=1)
            conv.weight.data = torch.from_numpy(w.copy())
            conv.bias.data = torch.from_numpy(inits[b_name].copy())
            self.convs.append(conv)
        self.fc_w = torch.from_numpy(inits["fc_w"].copy())
        self.fc_b = torch.from_numpy(inits["fc_b"].copy())
        self.relus = torch.nn.ModuleList(torch.nn.ReLU() for _ in convs)
        self.flat = torch.nn.Flatten()

    def forward(self, x):
        for conv, relu in zip(self.convs, self.relus):
            x = relu(conv(x))
        x = self.flat(torch.nn.functional.adaptive_avg_pool2d(x, 1))
        self.flat_out = x
        return x @ self.fc_w + self.fc_b


def images(seed, n):
    return np.random.default_rng(seed).random((n, 3, 32, 32), dtype=np.float32)


# --------------------------------------------------------------------------- FP16

def fp16_model():
    """The FP32 graph with every initializer and the graph's input/output in float16."""
    model, _, _ = cnn_parts()
    g = model.graph
    for t in g.initializer:
        t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
    for v in list(g.input) + list(g.output):
        v.type.tensor_type.elem_type = F16
    model.graph.name = "cnn_fp16"
    onnx.checker.check_model(model, full_check=True)
    return model


# --------------------------------------------------------------------------- INT8 (QDQ)

def uint8_qparams(lo, hi):
    """Asymmetric uint8 scale and zero point covering [min(lo, 0), max(hi, 0)]."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    zp = int(np.clip(round(-lo / scale), 0, 255))
    return np.float32(scale), np.uint8(zp)


def int8_weights(w, per_channel):
    """Symmetric int8 weights; per output channel (axis 0) or per tensor."""
    if per_channel:
        amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    else:
        amax = np.array(np.abs(w).max())
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    shaped = scale.reshape((-1,) + (1,) * (w.ndim - 1)) if per_channel else scale
    q = np.clip(np.round(w / shaped), -127, 127).astype(np.int8)
    return q, scale


def calibrate(net):
    """min/max of the input, every ReLU output and the flattened pool, over the calibration set."""
    ranges = {}

    def track(name, t):
        lo, hi = float(t.min()), float(t.max())
        old = ranges.get(name, (lo, hi))
        ranges[name] = (min(old[0], lo), max(old[1], hi))

    hooks = [r.register_forward_hook(lambda _m, _i, out, i=i: track(f"relu{i}", out))
             for i, r in enumerate(net.relus, start=1)]
    with torch.no_grad():
        x = torch.from_numpy(images(CALIBRATION_SEED, CALIBRATION_N))
        track("image", x)
        net(x)
        track("flat", net.flat_out)
    for h in hooks:
        h.remove()
    return ranges


def int8_model():
    _, inits, convs = cnn_parts()
    net = TorchCnn(inits, convs).eval()
    ranges = calibrate(net)
    nodes, tensors = [], []

    def const(name, array):
        tensors.append(mm.init(name, array))
        return name

    def qdq(src, tag):
        """src (float) -> QuantizeLinear -> DequantizeLinear; returns (float name, scale)."""
        scale, zp = uint8_qparams(*ranges[tag])
        s, z = const(f"{tag}_scale", scale), const(f"{tag}_zp", zp)
        nodes.append(helper.make_node("QuantizeLinear", [src, s, z], [f"{tag}_q"]))
        nodes.append(helper.make_node("DequantizeLinear", [f"{tag}_q", s, z], [f"{tag}_dq"]))
        return f"{tag}_dq", scale

    def dq_weights(prefix, w, b, x_scale, per_channel):
        """Quantized weight and int32 bias, each behind a DequantizeLinear."""
        wq, w_scale = int8_weights(w, per_channel)
        b_scale = (x_scale * w_scale).astype(np.float32)
        bq = np.round(b / b_scale).astype(np.int32)
        axis = {"axis": 0} if per_channel else {}
        w_zp = np.zeros_like(w_scale, dtype=np.int8)
        b_zp = np.zeros_like(b_scale, dtype=np.int32)
        nodes.append(helper.make_node(
            "DequantizeLinear",
            [const(f"{prefix}_wq", wq), const(f"{prefix}_ws", w_scale), const(f"{prefix}_wzp", w_zp)],
            [f"{prefix}_w"], **axis))
        nodes.append(helper.make_node(
            "DequantizeLinear",
            [const(f"{prefix}_bq", bq), const(f"{prefix}_bs", b_scale), const(f"{prefix}_bzp", b_zp)],
            [f"{prefix}_b"], **axis))
        return f"{prefix}_w", f"{prefix}_b"

    cur, cur_scale = qdq("image", "image")
    for i, (w_name, b_name, stride) in enumerate(convs, start=1):
        w, b = dq_weights(f"conv{i}", inits[w_name], inits[b_name], cur_scale, per_channel=True)
        nodes.append(helper.make_node(
            "Conv", [cur, w, b], [f"conv{i}"],
            kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[stride, stride]))
        nodes.append(helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"]))
        cur, cur_scale = qdq(f"relu{i}", f"relu{i}")
    nodes.append(helper.make_node("GlobalAveragePool", [cur], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flatf"], axis=1))
    flat, flat_scale = qdq("flatf", "flat")
    w, b = dq_weights("fc", inits["fc_w"], inits["fc_b"], flat_scale, per_channel=False)
    nodes.append(helper.make_node("Gemm", [flat, w, b], ["logits"]))
    return mm.make_model(
        "cnn_int8", nodes,
        [mm.vi("image", mm.F32, ["batch", 3, 32, 32])],
        [mm.vi("logits", mm.F32, ["batch", 10])],
        tensors,
    ), net


# --------------------------------------------------------------------------- configs, fixtures

def cfg_cnn_variant(name, tensor_type):
    return mm.config(
        name, 32,
        [dict(name="image", data_type=tensor_type, dims=[3, 32, 32])],
        [dict(name="logits", data_type=tensor_type, dims=[10])],
        # The same batching and instances as cnn, so the bench compares like with like.
        mm.CNN_BATCHING,
    )


def write_fixtures(net):
    """Fixed test images (FP32 values exactly representable in FP16 too) and torch's FP32 logits."""
    x = images(TEST_SEED, TEST_N).astype(np.float16).astype(np.float32)
    with torch.no_grad():
        logits = net(torch.from_numpy(x)).numpy()
    os.makedirs(FIXTURE_DIR, exist_ok=True)
    with open(os.path.join(FIXTURE_DIR, "images.f32"), "wb") as f:
        f.write(x.astype("<f4").tobytes())
    with open(os.path.join(FIXTURE_DIR, "reference.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump({
            "about": "cnn FP32 logits from torch for images.f32 (little-endian float32 [8,3,32,32]); "
                     "written by scripts/make_quantized_models.py",
            "shape": [TEST_N, 3, 32, 32],
            "logits": [[float(np.float32(v)) for v in row] for row in logits],
        }, f, indent=1)
        f.write("\n")


def main():
    r = mm.MAIN_REPO
    mm.reset_model_dir(r, "cnn_fp16")
    mm.write_model(r, "cnn_fp16", 1, fp16_model())
    mm.write_text(r, "cnn_fp16", "config.pbtxt", cfg_cnn_variant("cnn_fp16", "TYPE_FP16"))

    model, net = int8_model()
    mm.reset_model_dir(r, "cnn_int8")
    mm.write_model(r, "cnn_int8", 1, model)
    mm.write_text(r, "cnn_int8", "config.pbtxt", cfg_cnn_variant("cnn_int8", "TYPE_FP32"))

    write_fixtures(net)
    for d in (os.path.join(r, "cnn_fp16"), os.path.join(r, "cnn_int8"), FIXTURE_DIR):
        for dirpath, _, files in sorted(os.walk(d)):
            for fn in sorted(files):
                p = os.path.join(dirpath, fn)
                print(f"{os.path.getsize(p):>10}  {os.path.relpath(p, mm.ROOT)}")


if __name__ == "__main__":
    main()
