#!/usr/bin/python3
"""Generate the LSTM test fixtures in tests/data/lstm/.

Run with Debian's interpreter (python3-onnx 1.12, python3-torch 1.13):

    /usr/bin/python3 tests/data/make_lstm_fixtures.py

golden.onnx (+ golden.input.npy, the table's x): the synthetic model of docs/lstm-golden.md written with
  onnx.helper in ONNX gate order (i, o, f, c) and layouts, shaped like a
  torch export: x (N, T, F) -> Transpose -> LSTM (B = both biases, zero
  initial states from ConstantOfShape(x.size(0))) -> Squeeze -> Gather(-1)
  -> MatMul (no bias).  The expected numbers are the table of
  lstm-golden.md; tests/test_lstm.c holds them.
<name>.onnx: torch.onnx.export of small random nn.LSTM models (opset 13,
  dynamic batch) with <name>.input.npy (3 samples), <name>.expected.npy
  (torch's output) and <name>.relevance.npy: the input relevance for
  target class 0, initial relevance the score, computed here by an
  independent float64 numpy implementation of the reference semantics
  (ArrasL/LRP_for_LSTM lrp_linear, eps 1e-3, bias_factor 0, head included).
init_state.onnx: the golden model with initial states 0.3 (input, expected,
  relevance as above).
bad_*.onnx: LSTMs the importer must refuse (test_lstm.c checks the message).
"""
import io
import os
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lstm")
EPS = 1e-3
warnings.filterwarnings("ignore")


def t(a, name):
    return numpy_helper.from_array(np.asarray(a), name)


def save(name, model, x=None, expected=None, rel=None):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for ext, a in ((".input.npy", x), (".expected.npy", expected), (".relevance.npy", rel)):
        if a is not None:
            np.save(os.path.join(OUT, name + ext), np.ascontiguousarray(a, np.float32))


# ---------------------------------------------------------------------------
# reference semantics (float64), ONNX gate order i, o, f, c
# ---------------------------------------------------------------------------
def sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def stab(z):
    return z + EPS * np.where(z >= 0, 1.0, -1.0)


def lrp_linear(hin, w, hout, rout):
    """ArrasL lrp_linear with bias_factor 0: w (D, M), hin (D), hout/rout (M)."""
    return ((w * hin[:, None]) / stab(hout)[None, :] * rout[None, :]).sum(1)


def lstm_dir(x, W, R, b, reverse, h0=None, c0=None):
    """One direction over x (T, F): states per time index."""
    T, H = x.shape[0], R.shape[1]
    h, c = np.zeros((T, H)), np.zeros((T, H))
    gates, pre = np.zeros((T, 4 * H)), np.zeros((T, 4 * H))
    hp = np.zeros(H) if h0 is None else h0
    cp = np.zeros(H) if c0 is None else c0
    for tt in (range(T - 1, -1, -1) if reverse else range(T)):
        z = W @ x[tt] + R @ hp + b
        gates[tt] = np.concatenate([sig(z[:3 * H]), np.tanh(z[3 * H:])])
        pre[tt] = z
        i, o, f, g = (gates[tt, k * H:(k + 1) * H] for k in range(4))
        c[tt] = f * cp + i * g
        h[tt] = o * np.tanh(c[tt])
        hp, cp = h[tt], c[tt]
    return dict(x=x, W=W, R=R, h=h, c=c, gates=gates, pre=pre, reverse=reverse, H=H,
                c0=np.zeros(H) if c0 is None else c0)


def lrp_dir(s, Rh_out):
    """Relevance of one direction's input x (T, F) given relevance on h (T, H)."""
    T, H = s["h"].shape
    x, W, R = s["x"], s["W"], s["R"]
    Rx = np.zeros_like(x)
    Rc_next, Rh_rec = np.zeros(H), np.zeros(H)
    order = range(T) if s["reverse"] else range(T - 1, -1, -1)
    for k, tt in enumerate(order):
        first = k == T - 1
        prev = tt + 1 if s["reverse"] else tt - 1
        i, o, f, g = (s["gates"][tt, q * H:(q + 1) * H] for q in range(4))
        cprev = s["c0"] if first else s["c"][prev]
        Rc = Rc_next + Rh_out[tt] + Rh_rec
        Rc_next = lrp_linear(f * cprev, np.identity(H), s["c"][tt], Rc)
        Rg = lrp_linear(i * g, np.identity(H), s["c"][tt], Rc)
        zg = s["pre"][tt, 3 * H:]
        Rx[tt] = lrp_linear(x[tt], W[3 * H:].T, zg, Rg)
        Rh_rec = np.zeros(H) if first else lrp_linear(s["h"][prev], R[3 * H:].T, zg, Rg)
    return Rx


def torch_layers(lstm):
    """Per layer, per direction: (W, R, b) in ONNX gate order."""
    perm = lambda a, H: np.concatenate([a[:H], a[3 * H:], a[H:2 * H], a[2 * H:3 * H]])
    H = lstm.hidden_size
    out = []
    for layer in range(lstm.num_layers):
        dirs = []
        for sfx in ["", "_reverse"][:1 + lstm.bidirectional]:
            g = lambda n: getattr(lstm, f"{n}_l{layer}{sfx}").detach().double().numpy()
            dirs.append((perm(g("weight_ih"), H), perm(g("weight_hh"), H),
                         perm(g("bias_ih") + g("bias_hh"), H)))
        out.append(dirs)
    return out


def reference(model, x, cls=0):
    """Relevance of x (N, T, F) for class cls with the reference semantics."""
    lstm, fc, head = model.lstm, model.fc, model.head
    layers = torch_layers(lstm)
    Wfc = fc.weight.detach().double().numpy()
    bfc = fc.bias.detach().double().numpy() if fc.bias is not None else 0.0
    D, H = 1 + lstm.bidirectional, lstm.hidden_size
    Rx_all = []
    for xs in x.astype(np.float64):
        states, inp = [], xs
        for dirs in layers:
            st = [lstm_dir(inp, W, R, b, d == 1) for d, (W, R, b) in enumerate(dirs)]
            states.append(st)
            inp = np.concatenate([s["h"] for s in st], 1)
        top = states[-1]
        if head in ("last", "slice"):  # y[:, -1, :]: every direction at t = T-1
            feat = np.concatenate([s["h"][-1] for s in top])
            at = [len(xs) - 1] * D
        else:                        # h_n of the last layer: each direction's final state
            feat = np.concatenate([s["h"][0 if s["reverse"] else -1] for s in top])
            at = [0 if s["reverse"] else len(xs) - 1 for s in top]
        score = Wfc @ feat + bfc
        Rfeat = lrp_linear(feat, Wfc[cls][:, None], score[cls:cls + 1], score[cls:cls + 1])
        Rh = [np.zeros((len(xs), H)) for _ in range(D)]
        for d in range(D):
            Rh[d][at[d]] = Rfeat[d * H:(d + 1) * H]
        for li in range(len(layers) - 1, -1, -1):
            Rin = sum(lrp_dir(s, Rh[d]) for d, s in enumerate(states[li]))
            Rh = [Rin[:, d * H:(d + 1) * H] for d in range(D)] if li else None
        Rx_all.append(Rin)
    return np.stack(Rx_all)


# ---------------------------------------------------------------------------
# torch exports
# ---------------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self, F, H, layers, bidi, batch_first, head, bias=True):
        super().__init__()
        self.lstm = nn.LSTM(F, H, num_layers=layers, bidirectional=bidi, batch_first=batch_first)
        self.fc = nn.Linear(H * (1 + bidi), 3, bias=bias)
        self.head, self.bf = head, batch_first

    def forward(self, x):
        y, (h, c) = self.lstm(x)
        if self.head == "hn":
            z = torch.cat([h[-2], h[-1]], 1) if self.lstm.bidirectional else h[-1]
        elif self.head == "slice":
            z = y[:, -1:, :].reshape(y.shape[0], -1)
        else:
            z = y[:, -1, :] if self.bf else y[-1]
        return self.fc(z)


def export(name, net, T, F, seed):
    torch.manual_seed(seed)
    for p in net.parameters():
        nn.init.uniform_(p, -0.6, 0.6)
    net.eval()
    g = np.random.default_rng(seed)
    x = g.uniform(-1, 1, (3, T, F)).astype(np.float32)
    xin = torch.from_numpy(x if net.bf else x.transpose(1, 0, 2).copy())
    f = io.BytesIO()
    ax = 0 if net.bf else 1
    torch.onnx.export(net, xin[:2] if net.bf else xin[:, :2], f, opset_version=13,
                      input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {ax: "N"}, "y": {0: "N"}})
    m = onnx.load_from_string(f.getvalue())
    with torch.no_grad():
        y = net(xin).numpy()
    save(name, m, x, y, reference(net, x))
    print(name, ":", ", ".join(n.op_type for n in m.graph.node if n.op_type != "Constant"))


def torch_fixtures():
    export("uni", Net(3, 4, 1, False, True, "last"), 5, 3, 1)
    export("seqfirst", Net(3, 4, 1, False, False, "last"), 5, 3, 2)
    export("hn_nobias", Net(3, 4, 1, False, True, "hn", bias=False), 6, 3, 3)
    export("slice", Net(2, 3, 1, False, True, "slice"), 4, 2, 4)
    export("bidi", Net(3, 4, 1, True, True, "hn"), 5, 3, 5)
    export("bidi2_last", Net(3, 4, 2, True, True, "last"), 5, 3, 6)
    export("stack2_seqfirst", Net(2, 3, 2, True, False, "hn"), 4, 2, 7)


# ---------------------------------------------------------------------------
# the golden model (docs/lstm-golden.md) and refused models
# ---------------------------------------------------------------------------
def gmat(s, rows, cols):
    r, c = np.arange(rows)[:, None], np.arange(cols)[None, :]
    return 0.5 * np.sin(s + 0.9 * r + 1.7 * c)


def to_onnx_order(a, d=2):  # reference blocks i, g, f, o -> ONNX i, o, f, c
    return np.concatenate([a[:d], a[3 * d:], a[2 * d:3 * d], a[d:2 * d]])


def lstm_graph(name, lstm_inputs, inits, T=4, F=3, H=2, C=3, extra_nodes=(), outputs=None,
               check=True, init_value=0.0, **attrs):
    """x (N, T, F) -> Transpose -> LSTM -> Squeeze -> Gather(-1) -> MatMul."""
    shape_nodes = [
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Constant", [], ["i0"], value=t(np.array(0, np.int64), "i0")),
        helper.make_node("Gather", ["shp", "i0"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        helper.make_node("Concat", ["one", "n1", "hid"], ["hshape"], axis=0),
        helper.make_node("ConstantOfShape", ["hshape"], ["zeros"],
                         value=t(np.array([init_value], np.float32), "v")),
    ]
    nodes = shape_nodes + [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        helper.make_node("LSTM", ["xt"] + lstm_inputs, outputs or ["Y", "Y_h", "Y_c"],
                         hidden_size=H, name=name, **attrs),
        helper.make_node("Squeeze", ["Y", "ax1"], ["ys"]),
        helper.make_node("Gather", ["ys", "last"], ["hT"], axis=0),
        helper.make_node("MatMul", ["hT", "Why"], ["s"]),
    ] + list(extra_nodes)
    base = [t(np.array([0], np.int64), "ax0"), t(np.array([1], np.int64), "ax1"),
            t(np.array([1], np.int64), "one"), t(np.array([H], np.int64), "hid"),
            t(np.array(-1, np.int64), "last")]
    g = helper.make_graph(nodes, "lstm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", T, F])],
                          [helper.make_tensor_value_info("s", TensorProto.FLOAT, ["N", C])], base + inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_lstm_fixtures")
    if check:
        onnx.checker.check_model(m)
    return m


def golden():
    W = to_onnx_order(gmat(1, 8, 3))[None]
    R = to_onnx_order(gmat(3, 8, 2))[None]
    B = np.concatenate([to_onnx_order(gmat(2, 8, 1)[:, 0]), to_onnx_order(gmat(4, 8, 1)[:, 0])])[None]
    Why = gmat(9, 3, 2)
    inits = [t(W.astype(np.float32), "W"), t(R.astype(np.float32), "R"), t(B.astype(np.float32), "B"),
             t(Why.T.astype(np.float32).copy(), "Why")]
    ins = ["W", "R", "B", "", "zeros", "zeros"]
    x = np.array([[-0.6181371122, 0.8591618149, 0.3967405731],
                  [0.9059547423, 0.3031183567, -0.9840650051],
                  [-0.9999902066, 0.1332320414, 0.9656577765],
                  [0.8947911721, -0.5580522713, -0.7509872468]])[None]
    save("golden", lstm_graph("lstm_golden", ins, inits), x)
    return ins, inits


def init_state_fixture(ins, inits):
    """The golden model with initial states h0 = c0 = 0.3 (ConstantOfShape
    of value 0.3): forward and reference relevance (what reaches the
    initial states is absorbed)."""
    v = 0.3
    m = lstm_graph("lstm_init", ins, inits, init_value=v)
    init = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in inits}
    W, R, B, Why = init["W"][0], init["R"][0], init["B"][0], init["Why"].T
    g = np.random.default_rng(12)
    x = g.uniform(-1, 1, (3, 4, 3))
    ys, rels = [], []
    for xs in x:
        st = lstm_dir(xs, W, R, B[:8] + B[8:], False, np.full(2, v), np.full(2, v))
        score = Why @ st["h"][-1]
        Rh = np.zeros((4, 2))
        Rh[-1] = lrp_linear(st["h"][-1], Why[0][:, None], score[:1], score[:1])
        ys.append(score)
        rels.append(lrp_dir(st, Rh))
    save("init_state", m, x, np.array(ys), np.array(rels))


def bad_fixtures(ins, inits):
    save("bad_clip", lstm_graph("lstm_clip", ins, inits, clip=3.0))
    save("bad_act", lstm_graph("lstm_act", ins, inits, activations=["Sigmoid", "Relu", "Tanh"]))
    save("bad_forget", lstm_graph("lstm_forget", ins, inits, input_forget=1))
    P = t(np.zeros((1, 6), np.float32), "P")
    save("bad_peephole", lstm_graph("lstm_peep", ins + ["P"], inits + [P]))
    lens = t(np.array([3], np.int32), "lens")
    save("bad_seqlen", lstm_graph("lstm_lens", ["W", "R", "B", "lens", "zeros", "zeros"], inits + [lens]))
    yc = helper.make_node("Add", ["s", "cT"], ["s2"])
    m = lstm_graph("lstm_yc", ins, inits, extra_nodes=[
        helper.make_node("Squeeze", ["Y_c", "ax0"], ["cs"]),
        helper.make_node("MatMul", ["cs", "Why"], ["cT"]), yc])
    m.graph.output[0].name = "s2"
    save("bad_yc", m)
    # layout=1 written as such (X (N, T, F) without the Transpose)
    m = lstm_graph("lstm_layout", ins, inits, check=False, layout=1)  # an opset-14 attribute
    for n in m.graph.node:
        if n.op_type == "LSTM":
            n.input[0] = "x"
    save("bad_layout", m)
    # a dynamic sequence length: the graph is built for one T, so it is refused
    m = lstm_graph("lstm_dyn", ins, inits)
    m.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "T"
    save("bad_dynamic_t", m)


def main():
    ins, inits = golden()
    init_state_fixture(ins, inits)
    bad_fixtures(ins, inits)
    torch_fixtures()
    print("wrote", len(os.listdir(OUT)), "files to", OUT)


if __name__ == "__main__":
    main()
