#!/usr/bin/env python3
"""Generate the model pairs the traffic-routing tests use (test/fixtures/routing/).

Run from the repository root with Debian's python (it has `onnx` and `numpy`):

    /usr/bin/python3 scripts/make_routing_models.py

Each model has a version 1 that behaves and a version 2 that misbehaves on purpose,
so a canary of version 2 can be rolled back while version 1 (the primary) answers
every request:

  guarded/   x FP32 [1], idx INT64 [1] -> y FP32 [1]; y = table[idx] + x, batched (8)
             v1 clamps idx into the table first: it answers every idx.
             v2 gathers directly (the `flaky` fixture's graph): an idx outside
                [-4, 3] fails at run time. On in-range idx both answer the same.
  lagged/    x FP32 [1] -> y FP32 [1]; y == x, not batched
             v1 is an Identity (microseconds).
             v2 runs LAGGED_ITERS dependent [128,128] MatMuls first (~5-20 ms).

Both configs serve every version (version_policy all). These are a separate
repository from test/fixtures/models/, so adding them changes no other test's
repository index. Outputs are committed; tests do not need python. Byte-for-byte
reproducible (fixed seeds).
"""

import os
import shutil
import sys

sys.dont_write_bytecode = True  # no scripts/__pycache__ from importing make_models

import numpy as np
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_models as mm  # noqa: E402  (helpers and the slow graph)

ROOT = mm.ROOT
REPO = os.path.join(ROOT, "test", "fixtures", "routing")
F32 = TensorProto.FLOAT
I64 = TensorProto.INT64

TABLE = mm.FLAKY_TABLE  # [10, 20, 30, 40]
LAGGED_N = 128
LAGGED_ITERS = 150


def guarded_v1():
    """Clip(idx, -4, 3) then the flaky graph: never out of range."""
    nodes = [
        helper.make_node("Clip", ["idx", "lo", "hi"], ["safe"]),
        helper.make_node("Gather", ["table", "safe"], ["picked"], axis=0),
        helper.make_node("Add", ["picked", "x"], ["y"]),
    ]
    return mm.make_model(
        "guarded_v1",
        nodes,
        [mm.vi("x", F32, ["batch", 1]), mm.vi("idx", I64, ["batch", 1])],
        [mm.vi("y", F32, ["batch", 1])],
        [
            mm.init("table", TABLE),
            mm.init("lo", np.array(-len(TABLE), dtype=np.int64)),
            mm.init("hi", np.array(len(TABLE) - 1, dtype=np.int64)),
        ],
    )


def guarded_v2():
    return mm.flaky_model()


def lagged_v1():
    return mm.make_model(
        "lagged_v1",
        [helper.make_node("Identity", ["x"], ["y"])],
        [mm.vi("x", F32, [1])],
        [mm.vi("y", F32, [1])],
    )


def lagged_v2():
    # make_models.slow_model reads its size and trip count from module globals.
    saved = (mm.SLOW_N, mm.SLOW_ITERS)
    mm.SLOW_N, mm.SLOW_ITERS = LAGGED_N, LAGGED_ITERS
    try:
        return mm.slow_model()
    finally:
        mm.SLOW_N, mm.SLOW_ITERS = saved


def main():
    for name in ("guarded", "lagged"):
        mm.reset_model_dir(REPO, name)
    mm.write_model(REPO, "guarded", 1, guarded_v1())
    mm.write_model(REPO, "guarded", 2, guarded_v2())
    mm.write_text(REPO, "guarded", "config.pbtxt", mm.config(
        "guarded", 8,
        [dict(name="x", data_type="TYPE_FP32", dims=[1]), dict(name="idx", data_type="TYPE_INT64", dims=[1])],
        [dict(name="y", data_type="TYPE_FP32", dims=[1])],
        "version_policy: { all: {} }\n",
    ))
    mm.write_model(REPO, "lagged", 1, lagged_v1())
    mm.write_model(REPO, "lagged", 2, lagged_v2())
    mm.write_text(REPO, "lagged", "config.pbtxt", mm.config(
        "lagged", 0,
        [dict(name="x", data_type="TYPE_FP32", dims=[1])],
        [dict(name="y", data_type="TYPE_FP32", dims=[1])],
        "version_policy: { all: {} }\n",
    ))
    print(f"wrote {REPO}")


if __name__ == "__main__":
    main()
