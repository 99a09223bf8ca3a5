#!/usr/bin/python3
"""bench/models/big_identity: y = x * 1 over 1,048,576 FP32 values (4 MiB in, 4 MiB out),
for bench/shm.ts (in-band raw vs system shared memory). Run with Debian's python3 and
python3-onnx (/usr/bin/python3 scripts/make_bench_shm_model.py); the .onnx is committed.
"""
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

N = 1 << 20
OUT = os.path.join(os.path.dirname(__file__), "..", "bench", "models", "big_identity")

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", N])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", N])
one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), name="one")
graph = helper.make_graph([helper.make_node("Mul", ["x", "one"], ["y"])], "big_identity", [x], [y], initializer=[one])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="osprey")
model.ir_version = 8
os.makedirs(os.path.join(OUT, "1"), exist_ok=True)
save(model, os.path.join(OUT, "1", "model.onnx"))
with open(os.path.join(OUT, "config.pbtxt"), "w") as f:
    f.write(f"""name: "big_identity"
platform: "onnxruntime_onnx"
max_batch_size: 1
input [ {{ name: "x" data_type: TYPE_FP32 dims: [ {N} ] }} ]
output [ {{ name: "y" data_type: TYPE_FP32 dims: [ {N} ] }} ]
""")
