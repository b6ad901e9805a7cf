#!/usr/bin/python3
"""Generate the matcher (two-input, product-layer) ONNX fixtures used by
tests/test_bilrp.c, in tests/data/onnx/.

Run with Debian's interpreter (python3-onnx 1.12, python3-torch 1.13,
python3-numpy):

    /usr/bin/python3 tests/data/make_matcher_fixtures.py

For a model <name>.onnx it writes <name>.x.npy and <name>.y.npy (3 pairs,
float32), <name>.expected.npy (the model's output from torch/numpy) and, for
the bias-free ReLU models, <name>.R.npy: the pair relevance LRP-0 must give,
which for such models is Hessian x Product, R_ij = x_i y_j d2f/dx_i dy_j,
computed here in float64 with torch autograd (independently of neonlrp).
"""
import io
import os
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx")
warnings.filterwarnings("ignore")


def save_arrays(name, **arrays):
    for k, v in arrays.items():
        np.save(os.path.join(OUT, f"{name}.{k}.npy"), np.ascontiguousarray(v, np.float32))


def export(model, x, y, name):
    f = io.BytesIO()
    torch.onnx.export(model, (torch.from_numpy(x[:2]), torch.from_numpy(y[:2])), f,
                      opset_version=13, input_names=["x", "y"], output_names=["score"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}, "score": {0: "N"}})
    m = onnx.load_from_string(f.getvalue())
    onnx.checker.check_model(m)
    with open(os.path.join(OUT, name + ".onnx"), "wb") as fh:
        fh.write(m.SerializeToString())
    print(name, [n.op_type for n in m.graph.node])
    return m


def well_posed(model, x, y, n, lo=0.02):
    """n pairs whose branch outputs and scores are all at least lo away from
    0: LRP's stabilizer (1e-6) divides by them, so tiny ones would make R
    differ visibly from the exact Hessian x Product."""
    with torch.no_grad():
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        phi = model.phi(xt) if hasattr(model, "phi") else model.branch_x(xt)
        psi = model.phi(yt) if hasattr(model, "phi") else model.branch_y(yt)
        s = (phi * psi).sum(1)
    ok = ((phi.abs() > lo).all(1) & (psi.abs() > lo).all(1) & (s.abs() > lo)).numpy()
    idx = np.flatnonzero(ok)[:n]
    assert len(idx) == n, "not enough well-posed pairs"
    return np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx])


def hessian_x_product(model, x, y):
    """R[n, i, j] = x_i y_j d2 f / dx_i dy_j (float64), f = score[:, 0]."""
    model = model.double()
    R = []
    for n in range(len(x)):
        xt = torch.tensor(x[n:n + 1], dtype=torch.float64, requires_grad=True)
        yt = torch.tensor(y[n:n + 1], dtype=torch.float64, requires_grad=True)
        f = model(xt, yt).reshape(-1)[0]
        gx, = torch.autograd.grad(f, xt, create_graph=True)
        gx = gx.reshape(-1)
        H = np.zeros((gx.numel(), yt.numel()))
        for i in range(gx.numel()):
            if gx[i].requires_grad:
                gy, = torch.autograd.grad(gx[i], yt, retain_graph=True, allow_unused=True)
                if gy is not None:
                    H[i] = gy.reshape(-1).numpy()
        R.append(x[n].reshape(-1, 1).astype(np.float64) * H * y[n].reshape(1, -1))
    model.float()
    return np.stack(R)


class DotMLP(nn.Module):
    """Two different bias-free ReLU branches, score = <phi(x), psi(y)>."""

    def __init__(self):
        super().__init__()
        self.a1, self.a2 = nn.Linear(6, 8, bias=False), nn.Linear(8, 5, bias=False)
        self.b1, self.b2 = nn.Linear(4, 7, bias=False), nn.Linear(7, 5, bias=False)

    def branch_x(self, x):
        return self.a2(F.relu(self.a1(x)))

    def branch_y(self, y):
        return self.b2(F.relu(self.b1(y)))

    def forward(self, x, y):
        return (self.branch_x(x) * self.branch_y(y)).sum(1)


class SiameseCNN(nn.Module):
    """Shared bias-free conv branch, score = <phi(x), phi(y)> (keepdim)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(64, 6, bias=False)

    def phi(self, x):
        return self.fc(torch.flatten(F.max_pool2d(F.relu(self.conv(x)), 2), 1))

    def forward(self, x, y):
        return (self.phi(x) * self.phi(y)).sum(1, keepdim=True)


class Readout(nn.Module):
    """Branches with biases, product, then a linear read-out to 2 scores."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(5, 4)
        self.b = nn.Linear(3, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x, y):
        return self.out(F.relu(self.a(x)) * F.relu(self.b(y)))


def golden():
    """RULES.md 8: phi(x) = relu(x W1) W2 on both inputs (shared weights),
    MatMul form, y = ReduceSum(phi(x) * phi(x'), axes=[1], keepdims=1)."""
    W1 = np.array([[1, -0.5], [0.5, 1]], np.float32)
    W2 = np.array([[1, 0.2], [-0.3, 0.8]], np.float32)
    nodes = []
    for v in ("x", "x2"):
        nodes += [helper.make_node("MatMul", [v, "W1"], [v + "_h"]),
                  helper.make_node("Relu", [v + "_h"], [v + "_r"]),
                  helper.make_node("MatMul", [v + "_r", "W2"], [v + "_phi"])]
    nodes += [helper.make_node("Mul", ["x_phi", "x2_phi"], ["prod"]),
              helper.make_node("ReduceSum", ["prod", "axes"], ["y"], keepdims=1)]
    g = helper.make_graph(
        nodes, "golden",
        [helper.make_tensor_value_info(v, TensorProto.FLOAT, ["N", 2]) for v in ("x", "x2")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        [numpy_helper.from_array(W1, "W1"), numpy_helper.from_array(W2, "W2"),
         numpy_helper.from_array(np.array([1], np.int64), "axes")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="make_matcher_fixtures")
    onnx.checker.check_model(m)
    with open(os.path.join(OUT, "matcher_golden.onnx"), "wb") as fh:
        fh.write(m.SerializeToString())


def bad_sizes():
    """Branch outputs of sizes 5 and 4 multiplied: the importer must refuse."""
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("MatMul", ["x", "A"], ["a"]),
             helper.make_node("MatMul", ["y", "B"], ["b"]),
             helper.make_node("Mul", ["a", "b"], ["prod"]),
             helper.make_node("ReduceSum", ["prod", "axes"], ["s"], keepdims=1)]
    g = helper.make_graph(
        nodes, "bad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, ["N", 1])],
        [numpy_helper.from_array(rng.standard_normal((3, 5)).astype(np.float32), "A"),
         numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "B"),
         numpy_helper.from_array(np.array([1], np.int64), "axes")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="make_matcher_fixtures")
    with open(os.path.join(OUT, "matcher_bad_sizes.onnx"), "wb") as fh:
        fh.write(m.SerializeToString())


def main():
    os.makedirs(OUT, exist_ok=True)
    golden()
    bad_sizes()
    torch.manual_seed(5)
    rng = np.random.default_rng(5)

    m = DotMLP().eval()
    x = rng.uniform(-1, 1, (64, 6)).astype(np.float32)
    y = rng.uniform(-1, 1, (64, 4)).astype(np.float32)
    x, y = well_posed(m, x, y, 3)
    export(m, x, y, "matcher_dot")
    with torch.no_grad():
        s = m(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    save_arrays("matcher_dot", x=x, y=y, expected=s, R=hessian_x_product(m, x, y))

    m = SiameseCNN().eval()
    x = rng.uniform(0, 1, (64, 1, 8, 8)).astype(np.float32)
    y = rng.uniform(0, 1, (64, 1, 8, 8)).astype(np.float32)
    x, y = well_posed(m, x, y, 3)
    export(m, x, y, "matcher_cnn")
    with torch.no_grad():
        s = m(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    save_arrays("matcher_cnn", x=x, y=y, expected=s, R=hessian_x_product(m, x, y))

    m = Readout().eval()
    x = rng.uniform(-1, 1, (3, 5)).astype(np.float32)
    y = rng.uniform(-1, 1, (3, 3)).astype(np.float32)
    export(m, x, y, "matcher_readout")
    with torch.no_grad():
        s = m(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    save_arrays("matcher_readout", x=x, y=y, expected=s)


if __name__ == "__main__":
    main()
