#!/usr/bin/python3
"""Train the neonlrp example CNN on Fashion-MNIST and export ONNX test models.

Run from the repository root with Debian's interpreter (python3-torch 1.13,
python3-onnx 1.12, python3-numpy):

    /usr/bin/python3 models/train_fmnist_cnn.py

Outputs (all in models/ unless noted):
    fmnist_cnn.onnx          eval-mode export, BatchNorm folded into Conv
    fmnist_cnn_bn.onnx       same weights, BatchNormalization nodes kept
    tiny_resnet.onnx         random-weight residual+concat test net, (N,1,8,8)
    tiny_mlp.onnx            random-weight MLP with trailing Softmax, (N,6)
    <name>.input.npy         fixture inputs (float32, C order)
    <name>.logits.npy        PyTorch eval-mode outputs for those inputs
    tiny_mlp.probs.npy       softmax of tiny_mlp logits (= the ONNX output)
    fmnist_cnn.labels.npy    int64 labels of the 16 fmnist fixture images
    ../datasets/fmnist_sample.npy, ../datasets/fmnist_sample_labels.npy

Every exported graph is re-evaluated with a small numpy interpreter
(onnxruntime is not available here) and compared against PyTorch.
"""
import gzip
import os
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 1234
TINY_SEED = 7
EPOCHS = 3
BATCH = 128
LR = 2e-3
OPSET = 13

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATASETS = os.path.join(ROOT, "datasets")
FMNIST_DIR = "/usr/share/datasets/fashion-mnist"


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dtype_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    assert dtype_code == 0x08, "expected unsigned byte IDX data"
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    return np.frombuffer(data, dtype=np.uint8, offset=off).reshape(dims)


def load_split(split):
    x = read_idx(os.path.join(FMNIST_DIR, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(FMNIST_DIR, f"{split}-labels-idx1-ubyte.gz"))
    x = (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return np.ascontiguousarray(x), y.astype(np.int64)


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------
class FmnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 64),
            nn.ReLU(),
            nn.Dropout(0.25),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.res = nn.Conv2d(4, 4, 3, padding=1)
        self.side = nn.Conv2d(4, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        t = F.relu(self.stem(x))
        r = t + F.relu(self.res(t))          # residual add
        c = torch.cat([r, self.side(t)], 1)  # channel concat
        return self.fc(self.flatten(self.pool(c)))


class TinyMLP(nn.Module):
    """logits() is the pre-softmax net; forward() appends Softmax for export."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 5)
        self.fc2 = nn.Linear(5, 3)

    def logits(self, x):
        return self.fc2(F.relu(self.fc1(x)))

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


# --------------------------------------------------------------------------
# Minimal numpy ONNX interpreter (only the ops these exports produce)
# --------------------------------------------------------------------------
def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pad_nchw(x, pads, value=0.0):
    nd = x.ndim - 2
    pw = [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)]
    return np.pad(x, pw, constant_values=value)


def _windows(x, k, s):
    # x: (N,C,H,W) -> (N,C,OH,OW,kh,kw)
    n, c, h, w = x.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    st = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (n, c, oh, ow, k[0], k[1]),
        (st[0], st[1], st[2] * s[0], st[3] * s[1], st[2], st[3]))


def _conv(x, w, b, a):
    assert a.get("group", 1) == 1 and a.get("dilations", [1, 1]) == [1, 1]
    s = a.get("strides", [1, 1])
    x = _pad_nchw(x, a.get("pads", [0, 0, 0, 0]))
    win = _windows(x, w.shape[2:], s)  # N,C,OH,OW,kh,kw
    y = np.einsum("ncijkl,ockl->noij", win, w, optimize=True)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def _pool(x, a, kind):
    k, s = a["kernel_shape"], a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    assert a.get("ceil_mode", 0) == 0
    if kind == "max":
        win = _windows(_pad_nchw(x, pads, -np.inf), k, s)
        return win.max(axis=(4, 5))
    win = _windows(_pad_nchw(x, pads), k, s)
    if a.get("count_include_pad", 0) or not any(pads):
        return win.mean(axis=(4, 5))
    ones = _windows(_pad_nchw(np.ones_like(x[:1, :1]), pads), k, s)
    return win.sum(axis=(4, 5)) / ones.sum(axis=(4, 5))


def run_onnx_numpy(model, x):
    env = {t.name: numpy_helper.to_array(t)
           for t in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for node in model.graph.node:
        a = _attrs(node)
        i = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Conv":
            y = _conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "BatchNormalization":
            xx, sc, bi, mu, var = i[:5]
            eps = a.get("epsilon", 1e-5)
            r = lambda v: v.reshape(1, -1, 1, 1)
            y = (xx - r(mu)) / np.sqrt(r(var) + eps) * r(sc) + r(bi)
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "MaxPool":
            y = _pool(i[0], a, "max")
        elif op == "AveragePool":
            y = _pool(i[0], a, "avg")
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Pad":
            mode = a.get("mode", b"constant")
            assert mode in (b"constant", "constant")
            pads = [int(v) for v in i[1]]
            val = float(i[2]) if len(i) > 2 and i[2] is not None else 0.0
            nd = i[0].ndim
            y = np.pad(i[0], [(pads[d], pads[d + nd]) for d in range(nd)],
                       constant_values=val)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Gemm":
            A, B = i[0], i[1]
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            y = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2 and i[2] is not None:
                y = y + a.get("beta", 1.0) * i[2]
        elif op == "MatMul":
            y = i[0] @ i[1]
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "Concat":
            y = np.concatenate(i, axis=a["axis"])
        elif op == "Softmax":
            ax = a.get("axis", -1)
            e = np.exp(i[0] - i[0].max(axis=ax, keepdims=True))
            y = e / e.sum(axis=ax, keepdims=True)
        elif op == "Identity":
            y = i[0]
        elif op == "Constant":
            env[node.output[0]] = numpy_helper.to_array(a["value"])
            continue
        else:
            raise NotImplementedError(f"numpy checker: op {op}")
        env[node.output[0]] = y.astype(np.float32)
    return env[model.graph.output[0].name]


# --------------------------------------------------------------------------
# Export helpers
# --------------------------------------------------------------------------
def describe(path):
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = [n.op_type for n in m.graph.node]
    opset = [(o.domain or "ai.onnx", o.version) for o in m.opset_import]
    print(f"\n== {os.path.basename(path)}  opset={opset}  "
          f"ir_version={m.ir_version}")
    print("   inputs :", [(v.name, [d.dim_param or d.dim_value
                                  for d in v.type.tensor_type.shape.dim])
                         for v in m.graph.input])
    print("   outputs:", [(v.name, [d.dim_param or d.dim_value
                                  for d in v.type.tensor_type.shape.dim])
                         for v in m.graph.output])
    print("   ops    :", " -> ".join(ops))
    for n in m.graph.node:
        a = _attrs(n)
        a = {k: (v.decode() if isinstance(v, bytes) else
                 numpy_helper.to_array(v).tolist()
                 if isinstance(v, onnx.TensorProto) else v)
             for k, v in a.items()}
        print(f"     {n.op_type:<20} {list(n.input)} -> {list(n.output)} {a}")
    return m, ops


def export(model, example, path, output_name, **kw):
    torch.onnx.export(
        model, example, path,
        opset_version=OPSET,
        input_names=["input"],
        output_names=[output_name],
        dynamic_axes={"input": {0: "batch"}, output_name: {0: "batch"}},
        **kw)


def check(m, x, ref, name, atol=1e-4):
    got = run_onnx_numpy(m, x)
    err = float(np.abs(got - ref).max())
    print(f"   numpy-ONNX vs torch max|diff| = {err:.3g}")
    assert err < atol, f"{name}: ONNX graph does not reproduce torch outputs"


def save(path, arr):
    arr = np.ascontiguousarray(arr)
    np.save(path, arr)
    print(f"   wrote {os.path.relpath(path, ROOT)} {arr.dtype} {arr.shape}")


# --------------------------------------------------------------------------
def evaluate(model, x, y, bs=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for k in range(0, len(x), bs):
            out = model(torch.from_numpy(x[k:k + bs]))
            correct += int((out.argmax(1).numpy() == y[k:k + bs]).sum())
    return correct / len(x)


def main():
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(2)

    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    print(f"train {xtr.shape} test {xte.shape}")

    # ---- datasets/ sample -------------------------------------------------
    os.makedirs(DATASETS, exist_ok=True)
    save(os.path.join(DATASETS, "fmnist_sample.npy"), xte[:64])
    save(os.path.join(DATASETS, "fmnist_sample_labels.npy"), yte[:64])

    # ---- train ------------------------------------------------------------
    model = FmnistCNN()
    nparams = sum(p.numel() for p in model.parameters())
    print(f"FmnistCNN params: {nparams}")
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    rng = np.random.default_rng(SEED)
    xt_all, yt_all = torch.from_numpy(xtr), torch.from_numpy(ytr)
    t0 = time.time()
    for ep in range(EPOCHS):
        model.train()
        perm = torch.from_numpy(rng.permutation(len(xtr)))
        tot = 0.0
        for k in range(0, len(perm), BATCH):
            idx = perm[k:k + BATCH]
            loss = F.cross_entropy(model(xt_all[idx]), yt_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss) * len(idx)
        sched.step()
        acc = evaluate(model, xte, yte)
        print(f"epoch {ep + 1}: loss {tot / len(xtr):.4f} "
              f"test acc {acc:.4f}  ({time.time() - t0:.0f}s)")
    model.eval()
    acc = evaluate(model, xte, yte)
    print(f"FINAL test accuracy (10000 images): {acc:.4f}")

    # ---- fmnist exports ---------------------------------------------------
    x16 = np.ascontiguousarray(xte[:16])
    with torch.no_grad():
        ref16 = model(torch.from_numpy(x16)).numpy()
    save(os.path.join(HERE, "fmnist_cnn.input.npy"), x16)
    save(os.path.join(HERE, "fmnist_cnn.logits.npy"), ref16)
    save(os.path.join(HERE, "fmnist_cnn.labels.npy"), yte[:16])
    # same fixtures for the BN-preserving variant
    save(os.path.join(HERE, "fmnist_cnn_bn.input.npy"), x16)
    save(os.path.join(HERE, "fmnist_cnn_bn.logits.npy"), ref16)

    ex = torch.from_numpy(x16[:1])
    p = os.path.join(HERE, "fmnist_cnn.onnx")
    export(model, ex, p, "logits", do_constant_folding=True,
           training=torch.onnx.TrainingMode.EVAL)
    m, ops = describe(p)
    assert "BatchNormalization" not in ops
    check(m, x16, ref16, "fmnist_cnn")

    p = os.path.join(HERE, "fmnist_cnn_bn.onnx")
    # PRESERVE skips the eval peephole pass that folds BN into Conv; the model
    # itself is in eval mode so BN is exported with running statistics.
    # (do_constant_folding=False only silences torch's warning about folding
    # in PRESERVE mode; the resulting graph is the same.)
    export(model, ex, p, "logits", do_constant_folding=False,
           training=torch.onnx.TrainingMode.PRESERVE)
    m, ops = describe(p)
    assert ops.count("BatchNormalization") == 2, ops
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            assert len(n.output) == 1, "BN exported with training outputs"
    check(m, x16, ref16, "fmnist_cnn_bn")
    assert not model.training

    # ---- tiny_resnet ------------------------------------------------------
    torch.manual_seed(TINY_SEED)
    tr = TinyResNet().eval()
    xin = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        ref = tr(xin).numpy()
    xin = xin.numpy()
    save(os.path.join(HERE, "tiny_resnet.input.npy"), xin)
    save(os.path.join(HERE, "tiny_resnet.logits.npy"), ref)
    p = os.path.join(HERE, "tiny_resnet.onnx")
    export(tr, torch.from_numpy(xin[:1]), p, "logits")
    m, ops = describe(p)
    check(m, xin, ref, "tiny_resnet")

    # ---- tiny_mlp ---------------------------------------------------------
    torch.manual_seed(TINY_SEED + 1)
    mlp = TinyMLP().eval()
    xin = torch.randn(4, 6)
    with torch.no_grad():
        logits = mlp.logits(xin).numpy()
        probs = mlp(xin).numpy()
    xin = xin.numpy()
    save(os.path.join(HERE, "tiny_mlp.input.npy"), xin)
    save(os.path.join(HERE, "tiny_mlp.logits.npy"), logits)
    save(os.path.join(HERE, "tiny_mlp.probs.npy"), probs)
    p = os.path.join(HERE, "tiny_mlp.onnx")
    export(mlp, torch.from_numpy(xin[:1]), p, "probs")
    m, ops = describe(p)
    assert ops[-1] == "Softmax"
    check(m, xin, probs, "tiny_mlp", atol=1e-6)

    print(f"\nfmnist_cnn params={nparams} test_acc={acc:.4f} "
          f"seed={SEED} tiny_seed={TINY_SEED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
