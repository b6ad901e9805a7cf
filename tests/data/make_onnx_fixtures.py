#!/usr/bin/python3
"""Generate the ONNX importer test fixtures in tests/data/onnx/.

Run from anywhere with Debian's interpreter (python3-onnx 1.12, python3-torch
1.13, python3-numpy):

    /usr/bin/python3 tests/data/make_onnx_fixtures.py

For every good model <name>.onnx it writes <name>.input.npy (3 samples,
float32) and <name>.expected.npy (the float32 output, computed here with
torch/numpy independently of neonlrp; for models ending in Softmax the
expected output is the logits, since the importer strips it).  The bad_*
models must fail to import; tests/test_onnx.c checks the status and message.
The outputs are committed so the C tests need no Python.
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
N = 3
warnings.filterwarnings("ignore")


def rng(seed):
    return np.random.default_rng(seed)


def save(name, model, x, expected):
    os.makedirs(OUT, exist_ok=True)
    data = model if isinstance(model, bytes) else model.SerializeToString()
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(data)
    if x is not None:
        np.save(os.path.join(OUT, name + ".input.npy"), np.ascontiguousarray(x, np.float32))
        np.save(os.path.join(OUT, name + ".expected.npy"),
                np.ascontiguousarray(expected, np.float32))


def torch_export(model, x, opset=13, dynamic=True, fold=True, keep_bn=False):
    # TrainingMode.EVAL fuses BN into Conv; PRESERVE on an eval-mode model
    # keeps BatchNormalization nodes with the running statistics
    f = io.BytesIO()
    torch.onnx.export(model, torch.from_numpy(x[:2]), f, opset_version=opset,
                      input_names=["x"], output_names=["y"], do_constant_folding=fold,
                      training=torch.onnx.TrainingMode.PRESERVE if keep_bn
                      else torch.onnx.TrainingMode.EVAL,
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}} if dynamic else None)
    return onnx.load_from_string(f.getvalue())


def ops_of(m):
    return [n.op_type for n in m.graph.node]


def t(a, name):
    return numpy_helper.from_array(np.asarray(a), name)  # raw_data


def make(nodes, inputs, outputs, inits, opset=13, check=True):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="make_onnx_fixtures")
    if check:
        onnx.checker.check_model(m)
    return m


def fin(name, *shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *shape])


# ---------------------------------------------------------------------------
# torch exports
# ---------------------------------------------------------------------------
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.mp = nn.MaxPool2d(2)
        self.c2 = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
        self.bn2 = nn.BatchNorm2d(6)
        self.ap = nn.AvgPool2d(2, padding=1)  # exported as Pad + AveragePool
        self.fl = nn.Flatten()
        self.fc1 = nn.Linear(6 * 2 * 2, 8)
        self.do = nn.Dropout(0.5)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        x = self.mp(F.relu(self.bn1(self.c1(x))))
        x = self.ap(F.relu(self.bn2(self.c2(x))))
        return self.fc2(self.do(F.relu(self.fc1(self.fl(x)))))


class Pools(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(2, 3, 3, dilation=2, padding=2)
        self.mp = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.ap = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.pp = nn.AvgPool2d(2, padding=1)  # Pad + AveragePool, folded on import
        self.ad = nn.AdaptiveAvgPool2d(3)     # 9x9 -> AveragePool k3 s3
        self.gp = nn.AdaptiveAvgPool2d(1)     # GlobalAveragePool
        self.fc = nn.Linear(12 + 27 + 3, 4)

    def forward(self, x):
        x = F.relu(self.c(x))                 # (3, 9, 9)
        a = self.ap(self.mp(x))               # (3, 5, 5) -> (3, 3, 3)
        b = torch.flatten(self.pp(a), 1)      # (3, 2, 2)
        d = torch.flatten(self.ad(x), 1)
        g = torch.flatten(self.gp(x), 1)
        return self.fc(torch.cat([b, d, g], 1))


class Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(2, 4, 3, padding=1)
        self.res = nn.Conv2d(4, 4, 3, padding=1)
        self.side = nn.Conv2d(4, 2, 1)
        self.pool = nn.AdaptiveAvgPool2d(2)  # 6x6 -> AveragePool k3 s3
        self.fc = nn.Linear(6 * 2 * 2, 5)

    def logits(self, x):
        t = F.relu(self.stem(x))
        r = t + F.relu(self.res(t))
        c = torch.cat([r, self.side(t)], 1)
        p = self.pool(c)
        return self.fc(p.view(p.size(0), -1))  # Shape/Gather/Unsqueeze/Concat/Reshape

    def forward(self, x):
        return torch.softmax(self.logits(x), 1)


def randomize_bn(m, g):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            mod.weight.data = torch.from_numpy(g.uniform(0.5, 1.5, c).astype(np.float32))
            mod.bias.data = torch.from_numpy(g.uniform(-0.5, 0.5, c).astype(np.float32))
            mod.running_mean.data = torch.from_numpy(g.uniform(-0.5, 0.5, c).astype(np.float32))
            mod.running_var.data = torch.from_numpy(g.uniform(0.5, 2.0, c).astype(np.float32))


def torch_fixtures():
    torch.manual_seed(0)
    g = rng(1)
    cnn = CNN().eval()
    randomize_bn(cnn, g)
    x = g.standard_normal((N, 1, 12, 12)).astype(np.float32)
    with torch.no_grad():
        y = cnn(torch.from_numpy(x)).numpy()
    m = torch_export(cnn, x)
    assert "BatchNormalization" not in ops_of(m) and "Pad" in ops_of(m), ops_of(m)
    save("cnn", m, x, y)
    m = torch_export(cnn, x, fold=False, keep_bn=True)
    assert "BatchNormalization" in ops_of(m), ops_of(m)
    save("cnn_bn", m, x, y)

    torch.manual_seed(1)
    pools = Pools().eval()
    x = rng(2).standard_normal((N, 2, 9, 9)).astype(np.float32)
    with torch.no_grad():
        y = pools(torch.from_numpy(x)).numpy()
    m = torch_export(pools, x)
    assert "GlobalAveragePool" in ops_of(m), ops_of(m)
    save("pools", m, x, y)

    torch.manual_seed(2)
    res = Res().eval()
    x = rng(3).standard_normal((N, 2, 6, 6)).astype(np.float32)
    with torch.no_grad():
        y = res.logits(torch.from_numpy(x)).numpy()
    m = torch_export(res, x)
    assert {"Shape", "Gather", "Concat", "Reshape", "Softmax", "Add"} <= set(ops_of(m)), ops_of(m)
    save("resnet", m, x, y)
    m = torch_export(res, x, dynamic=False)  # x.size(0) folded to the example batch (2)
    save("resnet_static", m, x, y)
    m = torch_export(res, x, fold=False, opset=11)  # unfolded shape subgraph, opset 11
    save("resnet_nofold", m, x, y)


# ---------------------------------------------------------------------------
# hand-built graphs (onnx.helper), references in numpy/torch
# ---------------------------------------------------------------------------
def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def softplus(v):
    return np.log1p(np.exp(v))


def gemm_fixture():
    g = rng(10)
    B1 = g.standard_normal((5, 4)).astype(np.float32)
    C1 = g.standard_normal(4).astype(np.float32)
    B2 = g.standard_normal((3, 4)).astype(np.float32)
    C2 = g.standard_normal((1, 3)).astype(np.float32)
    inits = [helper.make_tensor("B1", TensorProto.FLOAT, B1.shape, B1.ravel().tolist()),  # float_data
             t(C1, "C1"), t(B2, "B2"), t(C2, "C2")]
    nodes = [helper.make_node("Gemm", ["x", "B1", "C1"], ["g1"], alpha=0.5, beta=2.0),
             helper.make_node("Sigmoid", ["g1"], ["s1"]),
             helper.make_node("Gemm", ["s1", "B2", "C2"], ["g2"], transB=1, alpha=1.5, beta=0.25),
             helper.make_node("Tanh", ["g2"], ["y"])]
    m = make(nodes, [fin("x", 5)], [fin("y", 3)], inits)
    x = g.standard_normal((N, 5)).astype(np.float32)
    y = np.tanh(1.5 * sigmoid(0.5 * x @ B1 + 2.0 * C1) @ B2.T + 0.25 * C2)
    save("gemm", m, x, y)


def matmul_fixture():
    g = rng(11)
    W1 = g.standard_normal((6, 5)).astype(np.float32)
    b1 = g.standard_normal(5)  # DOUBLE Constant -> Cast(FLOAT)
    W2 = g.standard_normal((5, 4)).astype(np.float32)
    b2 = g.standard_normal((1, 4)).astype(np.float32)
    W3 = g.standard_normal((4, 3)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["m1"]),
             helper.make_node("Constant", [], ["b1d"],  # double_data
                              value=helper.make_tensor("b1d", TensorProto.DOUBLE, [5], b1.tolist())),
             helper.make_node("Cast", ["b1d"], ["b1"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["m1", "b1"], ["a1"]),
             helper.make_node("Elu", ["a1"], ["e1"], alpha=0.7),
             helper.make_node("MatMul", ["e1", "W2"], ["m2"]),
             helper.make_node("Add", ["b2", "m2"], ["a2"]),  # constant first
             helper.make_node("LeakyRelu", ["a2"], ["l2"], alpha=0.2),
             helper.make_node("MatMul", ["l2", "W3"], ["m3"]),
             helper.make_node("Softplus", ["m3"], ["y"])]
    m = make(nodes, [fin("x", 6)], [fin("y", 3)], [t(W1, "W1"), t(W2, "W2"), t(b2, "b2"), t(W3, "W3")])
    x = g.standard_normal((N, 6)).astype(np.float32)
    a1 = x @ W1 + b1.astype(np.float32)
    e1 = np.where(a1 > 0, a1, 0.7 * (np.exp(a1) - 1))
    a2 = b2 + e1 @ W2
    l2 = np.where(a2 > 0, a2, 0.2 * a2)
    save("matmul", m, x, softplus(l2 @ W3))


def shapeops_fixture():
    """Pad(0.5) + Conv + folded bias, Unsqueeze/Squeeze, a shape subgraph
    (Shape, Slice, Gather, Mul, Unsqueeze, Concat, Cast from INT32),
    zero Pad folded into AveragePool and into Conv, Sum, Concat, Dropout,
    Identity, Flatten, Gemm."""
    g = rng(12)
    W = g.standard_normal((3, 2, 3, 3)).astype(np.float32)
    bias = g.standard_normal((1, 3, 1, 1)).astype(np.float32)
    W2 = g.standard_normal((2, 2, 3, 3)).astype(np.float32)
    b2 = g.standard_normal(2).astype(np.float32)
    Wf = g.standard_normal((4, 12 + 8 + 18)).astype(np.float32)
    bf = g.standard_normal(4).astype(np.float32)
    def i64(v, name):  # int64_data (not raw_data)
        a = np.asarray(v, np.int64)
        return helper.make_tensor(name, TensorProto.INT64, a.shape, a.ravel().tolist())
    inits = [t(bias.astype(np.float64), "biasd"), t(W, "W"), t(W2, "W2"), t(b2, "b2"), t(Wf, "Wf"),
             t(bf, "bf"), t(np.asarray(0.5, np.float32), "half"), i64([3], "three"),
             i64([2], "ax2"), i64([1], "one"), i64([4], "four"), i64([0], "ax0"),
             i64(0, "i0"), i64(1, "i1"), i64(2, "i2"),
             helper.make_tensor("tail", TensorProto.INT32, [1], [-1])]
    nodes = [
        helper.make_node("Constant", [], ["pads"], value_ints=[0, 0, 1, 1, 0, 0, 1, 1]),
        helper.make_node("Cast", ["biasd"], ["bias"], to=TensorProto.FLOAT),  # raw DOUBLE
        helper.make_node("Pad", ["x", "pads", "half"], ["p"], mode="constant"),
        helper.make_node("Conv", ["p", "W"], ["c"], strides=[2, 2]),            # (3, 2, 2)
        helper.make_node("Add", ["c", "bias"], ["cb"]),
        helper.make_node("Relu", ["cb"], ["r"]),
        helper.make_node("Unsqueeze", ["r", "ax2"], ["u"]),                     # (3, 1, 2, 2)
        helper.make_node("Squeeze", ["u", "ax2"], ["s"]),
        helper.make_node("Shape", ["s"], ["sh"]),
        helper.make_node("Gather", ["sh", "i0"], ["n"]),
        helper.make_node("Slice", ["sh", "one", "four"], ["rest"]),
        helper.make_node("Gather", ["rest", "i0"], ["d1"]),
        helper.make_node("Gather", ["rest", "i1"], ["d2"]),
        helper.make_node("Gather", ["rest", "i2"], ["d3"]),
        helper.make_node("Mul", ["d1", "d2"], ["d12"]),
        helper.make_node("Mul", ["d12", "d3"], ["prod"]),
        helper.make_node("Div", ["prod", "d3"], ["q"]),                         # 6
        helper.make_node("Unsqueeze", ["n", "ax0"], ["nu"]),
        helper.make_node("Unsqueeze", ["q", "ax0"], ["qu"]),
        helper.make_node("Cast", ["tail"], ["tail64"], to=TensorProto.INT64),
        helper.make_node("Concat", ["nu", "qu", "tail64"], ["target0"], axis=0),  # [N, 6, -1]
        helper.make_node("ConstantOfShape", ["three"], ["zeros"],
                         value=helper.make_tensor("v", TensorProto.INT64, [1], [0])),
        helper.make_node("Add", ["target0", "zeros"], ["target"]),              # N + 0 is N
        helper.make_node("Reshape", ["s", "target"], ["rs"]),                  # (6, 2)
        helper.make_node("Flatten", ["rs"], ["f"]),                            # (12)
        # zero Pad folded into AveragePool (count_include_pad) and into Conv
        helper.make_node("Pad", ["x", "pads"], ["zp"]),
        helper.make_node("AveragePool", ["zp"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["zp", "W2", "b2"], ["c2"], strides=[3, 3]),   # (2, 2, 2)
        helper.make_node("Flatten", ["c2"], ["c2f"]),
        helper.make_node("Dropout", ["c2f"], ["c2d"]),
        helper.make_node("Flatten", ["ap"], ["apf"]),                           # (2*3*3 = 18)
        helper.make_node("Identity", ["apf"], ["api"]),
        helper.make_node("Sum", ["c2d", "c2d"], ["c2s"]),
        helper.make_node("Concat", ["f", "c2s", "api"], ["cat"], axis=1),
        helper.make_node("Gemm", ["cat", "Wf", "bf"], ["y"], transB=1),
    ]
    x = g.standard_normal((N, 2, 4, 4)).astype(np.float32)
    tx = torch.from_numpy(x)
    with torch.no_grad():
        p = F.pad(tx, (1, 1, 1, 1), value=0.5)
        r = F.relu(F.conv2d(p, torch.from_numpy(W), stride=2) + torch.from_numpy(bias))
        f = r.reshape(N, 6, -1).reshape(N, -1)
        zp = F.pad(tx, (1, 1, 1, 1))
        ap = F.avg_pool2d(zp, 2, 2).reshape(N, -1)
        c2 = F.conv2d(zp, torch.from_numpy(W2), torch.from_numpy(b2), stride=3).reshape(N, -1)
        cat = torch.cat([f, 2 * c2, ap], 1)
    y = cat.numpy() @ Wf.T + bf
    m = make(nodes, [fin("x", 2, 4, 4)], [fin("y", 4)], inits)
    save("shapeops", m, x, y)


def opset10_fixture():
    """Attribute forms of opset < 11: Pad pads/value, Unsqueeze/Squeeze axes."""
    g = rng(13)
    Wf = g.standard_normal((3, 9)).astype(np.float32)
    nodes = [helper.make_node("Pad", ["x"], ["p"], mode="constant", pads=[0, 0, 1, 0, 0, 0, 0, 1],
                              value=0.0),
             helper.make_node("MaxPool", ["p"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Unsqueeze", ["mp"], ["u"], axes=[1]),
             helper.make_node("Squeeze", ["u"], ["s"], axes=[1]),
             helper.make_node("Flatten", ["s"], ["f"]),
             helper.make_node("Gemm", ["f", "Wf", "bf"], ["y"], transB=1)]  # C required < 11
    bf = g.standard_normal(3).astype(np.float32)
    ins = [fin("x", 1, 5, 5), helper.make_tensor_value_info("Wf", TensorProto.FLOAT, [3, 9]),
           helper.make_tensor_value_info("bf", TensorProto.FLOAT, [3])]  # IR < 4 style
    m = make(nodes, ins, [fin("y", 3)], [t(Wf, "Wf"), t(bf, "bf")], opset=10)
    x = g.standard_normal((N, 1, 5, 5)).astype(np.float32)
    with torch.no_grad():
        p = F.pad(torch.from_numpy(x), (0, 1, 1, 0))
        f = F.max_pool2d(p, 2, 2).reshape(N, -1).numpy()
    save("opset10", m, x, f @ Wf.T + bf)


def two_outputs_fixture():
    """Two graph outputs: the first is explained; the second goes through an
    operator neonlrp does not support and must be ignored.  LogSoftmax on
    the first output is stripped."""
    g = rng(14)
    W = g.standard_normal((4, 3)).astype(np.float32)
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Gemm", ["r", "W"], ["z"]),
             helper.make_node("LogSoftmax", ["z"], ["y"], axis=1),
             helper.make_node("Exp", ["x"], ["aux"])]
    m = make(nodes, [fin("x", 4)], [fin("y", 3), fin("aux", 4)], [t(W, "W")], opset=17)
    x = g.standard_normal((N, 4)).astype(np.float32)
    save("two_outputs", m, x, np.maximum(x, 0) @ W)


# ---------------------------------------------------------------------------
# models that must be rejected
# ---------------------------------------------------------------------------
def bad_fixtures():
    g = rng(20)
    # an unsupported operator (opset 9 Upsample), named like torch names nodes
    m = make([helper.make_node("Relu", ["x"], ["r"]),
              helper.make_node("Upsample", ["r", "scales"], ["y"], name="Upsample_12")],
             [fin("x", 1, 2, 2)], [fin("y", 1, 4, 4)],
             [t(np.asarray([1, 1, 2, 2], np.float32), "scales")], opset=9)
    save("bad_upsample", m, None, None)
    # LSTM (opset 13)
    W = g.standard_normal((1, 8, 3)).astype(np.float32)
    R = g.standard_normal((1, 8, 2)).astype(np.float32)
    m = make([helper.make_node("LSTM", ["x", "W", "R"], ["y"], hidden_size=2, name="LSTM_3")],
             [fin("x", 1, 3)], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "N", 1, 2])],
             [t(W, "W"), t(R, "R")])
    save("bad_lstm", m, None, None)
    # Conv weight of rank 3 on an (N, 2, 5, 5) input
    m = make([helper.make_node("Conv", ["x", "W"], ["y"], name="conv1")],
             [fin("x", 2, 5, 5)], [fin("y", 3, 3, 3)],
             [t(g.standard_normal((3, 2, 3)).astype(np.float32), "W")], check=False)
    save("bad_conv_rank", m, None, None)
    # an initializer whose data lives in an external file
    w = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[3, 4])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "weights.bin"), ("offset", "0"), ("length", "48")):
        e = w.external_data.add()
        e.key, e.value = k, v
    m = make([helper.make_node("Gemm", ["x", "W"], ["y"], name="fc")],
             [fin("x", 4)], [fin("y", 3)], [w], check=False)
    save("bad_external", m, None, None)
    # a constant added to a non-linear activation
    m = make([helper.make_node("Relu", ["x"], ["r"]),
              helper.make_node("Add", ["r", "c"], ["y"], name="add_after_relu")],
             [fin("x", 4)], [fin("y", 4)], [t(np.ones(4, np.float32), "c")])
    save("bad_add", m, None, None)
    # Gemm weight that does not fit the input features
    m = make([helper.make_node("Gemm", ["x", "B"], ["y"], name="fc_bad", transB=1)],
             [fin("x", 5)], [fin("y", 3)], [t(np.ones((3, 7), np.float32), "B")], check=False)
    save("bad_gemm", m, None, None)
    # Softmax that is not the last node
    m = make([helper.make_node("Softmax", ["x"], ["s"], name="sm", axis=1),
              helper.make_node("Relu", ["s"], ["y"])],
             [fin("x", 4)], [fin("y", 4)], [])
    save("bad_softmax_mid", m, None, None)


def main():
    torch_fixtures()
    gemm_fixture()
    matmul_fixture()
    shapeops_fixture()
    opset10_fixture()
    two_outputs_fixture()
    bad_fixtures()
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
