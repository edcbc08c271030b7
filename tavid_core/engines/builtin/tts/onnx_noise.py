"""Seeded noise for ONNX voices.

VITS voices (piper) draw their duration and acoustic noise with `RandomNormalLike` nodes, which
onnxruntime seeds once per session: the same text then sounds different on every call. This
rewrites each such node into a counter-based generator keyed by a `noise_seed` graph input, so a
call's output depends only on its inputs and seed (same seed, same audio; nothing else changes).

The generator hashes each element's flat index with the seed (a multiply and two squaring rounds
modulo the Mersenne prime 2^31-1, all in int64 without overflow) into two uniforms, then Box-Muller.
"""
from __future__ import annotations

import numpy as np

SEED_INPUT = "noise_seed"
_P = 2147483647  # 2^31 - 1


def make_noise_seeded(model):
    """Replace every RandomNormalLike node of `model` (onnx.ModelProto, changed in place) with seeded
    noise; returns the number of nodes replaced. The model gains an int64 [1] input `noise_seed`."""
    import onnx
    from onnx import TensorProto, helper

    graph = model.graph
    targets = [(i, n) for i, n in enumerate(graph.node) if n.op_type == "RandomNormalLike"]
    if not targets:
        return 0
    graph.input.append(helper.make_tensor_value_info(SEED_INPUT, TensorProto.INT64, [1]))

    def const(name, value, dtype):
        arr = np.array(value, dtype=dtype)
        return helper.make_node("Constant", [], [name], value=onnx.numpy_helper.from_array(arr, name))

    replacements = {}
    for k, (at, node) in enumerate(targets):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        p = f"/seeded_noise_{k}/"
        n = []
        c = lambda name, value, dtype=np.int64: (n.append(const(p + name, value, dtype)), p + name)[1]  # noqa: E731
        op = lambda op_type, inputs, name, **kw: (n.append(helper.make_node(op_type, inputs, [p + name], **kw)), p + name)[1]  # noqa: E731
        shape = op("Shape", [node.input[0]], "shape")
        ones = op("ConstantOfShape", [shape], "ones", value=helper.make_tensor("one", TensorProto.INT64, [1], [1]))
        flat = op("Reshape", [ones, c("minus1", [-1])], "flat")
        index = op("CumSum", [flat, c("axis0", 0)], "index")
        modulus = c("p", [_P])
        # element index and seed -> key; a distinct stream per node
        seed = op("Mod", [SEED_INPUT, modulus], "seed_mod", fmod=0)
        key = op("Add", [op("Mul", [index, c("k1", [48271])], "ik"),
                         op("Add", [op("Mul", [seed, c("k2", [69621])], "sk"), c("stream", [1000003 * (k + 1)])], "sks")],
                 "key")
        h1 = op("Mod", [key, modulus], "h1", fmod=0)
        h2 = op("Mod", [op("Add", [op("Mul", [h1, h1], "h1sq"), c("a2", [12345])], "h2pre"), modulus], "h2", fmod=0)
        h3 = op("Mod", [op("Add", [op("Mul", [h2, h2], "h2sq"), c("a3", [67891])], "h3pre"), modulus], "h3", fmod=0)
        h4 = op("Mod", [op("Add", [op("Mul", [h3, h3], "h3sq"), c("a4", [13579])], "h4pre"), modulus], "h4", fmod=0)
        inv_p = c("inv_p", [1.0 / _P], np.float32)
        half = c("half", [0.5], np.float32)
        u1 = op("Mul", [op("Add", [op("Cast", [h3], "h3f", to=TensorProto.FLOAT), half], "u1pre"), inv_p], "u1")
        u2 = op("Mul", [op("Cast", [h4], "h4f", to=TensorProto.FLOAT), inv_p], "u2")
        radius = op("Sqrt", [op("Mul", [op("Log", [u1], "logu1"), c("m2", [-2.0], np.float32)], "r2")], "r")
        angle = op("Cos", [op("Mul", [u2, c("tau", [2 * np.pi], np.float32)], "theta")], "cos")
        normal = op("Mul", [radius, angle], "normal_flat")
        normal = op("Mul", [normal, c("scale", [attrs.get("scale", 1.0)], np.float32)], "scaled")
        normal = op("Add", [normal, c("mean", [attrs.get("mean", 0.0)], np.float32)], "shifted")
        n.append(helper.make_node("Reshape", [normal, shape], [node.output[0]]))
        replacements[at] = n

    # the graph's nodes rebuilt once: removing and inserting one by one compares and shifts the whole
    # repeated field each time (1.8 s for piper's joe)
    nodes = [new for at, node in enumerate(graph.node) for new in replacements.get(at, [node])]
    del graph.node[:]
    graph.node.extend(nodes)
    return len(targets)
