#!/usr/bin/python3
"""Train the neonlrp example matcher on Fashion-MNIST pairs and export it to
ONNX with two inputs.

Run from the repository root with Debian's interpreter (python3-torch 1.13,
python3-onnx 1.12, python3-numpy):

    /usr/bin/python3 models/train_fmnist_matcher.py

The matcher is a siamese network: one bias-free ReLU embedding phi (two
3x3 convolutions with max-pooling, two dense layers, 64 units) applied to
both images, and the score

    y = <phi(x), phi(x')>                      (ONNX: Mul + ReduceSum)

trained so that y is high when x and x' show the same class of garment
(two different images) and low otherwise: binary cross-entropy on
sigmoid(y - t) with a learned threshold t.  Bias-free ReLU branches make
the BiLRP explanation with LRP-0 exactly Hessian x Product.

Outputs (models/):
    fmnist_matcher.onnx          inputs x, y (N,1,28,28), output score (N,1)
    fmnist_matcher.x.npy         float32 (8,1,28,28) first images of 8 test pairs
    fmnist_matcher.y.npy         float32 (8,1,28,28) second images
    fmnist_matcher.same.npy      int64 (8,): 1 when the pair shows the same class
    fmnist_matcher.scores.npy    float32 (8,1): torch scores of those pairs
"""
import gzip
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 4321
EPOCHS = 4
PAIRS_PER_EPOCH = 30000
BATCH = 128
LR = 1e-3
EMB = 64
OPSET = 13

HERE = os.path.dirname(os.path.abspath(__file__))
FMNIST_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(split):
    x = read_idx(os.path.join(FMNIST_DIR, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(FMNIST_DIR, f"{split}-labels-idx1-ubyte.gz"))
    return (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28), y.astype(np.int64)


class Embedding(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.fc1 = nn.Linear(32 * 7 * 7, 128, bias=False)
        self.fc2 = nn.Linear(128, EMB, bias=False)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class Matcher(nn.Module):
    def __init__(self):
        super().__init__()
        self.phi = Embedding()

    def forward(self, x, y):
        return (self.phi(x) * self.phi(y)).sum(1, keepdim=True)


def make_pairs(labels, n, rng):
    """n pairs, half of the same class (two different images), half not."""
    by_class = [np.flatnonzero(labels == c) for c in range(10)]
    same = np.arange(n) % 2 == 0
    rng.shuffle(same)
    a = rng.integers(0, len(labels), n)
    b = np.empty(n, np.int64)
    for k in range(n):
        c = labels[a[k]]
        if same[k]:
            b[k] = a[k]
            while b[k] == a[k]:
                b[k] = rng.choice(by_class[c])
        else:
            c2 = (c + rng.integers(1, 10)) % 10
            b[k] = rng.choice(by_class[c2])
    return a, b, same.astype(np.float32)


def accuracy(model, t, x, a, b, same, bs=1000):
    model.eval()
    right = 0
    with torch.no_grad():
        for k in range(0, len(a), bs):
            s = model(torch.from_numpy(x[a[k:k + bs]]), torch.from_numpy(x[b[k:k + bs]]))
            right += int(((s[:, 0] > t).numpy() == (same[k:k + bs] > 0.5)).sum())
    return right / len(a)


def main():
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(2)
    rng = np.random.default_rng(SEED)
    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    model = Matcher()
    t = nn.Parameter(torch.zeros(()))
    opt = torch.optim.Adam(list(model.parameters()) + [t], lr=LR)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    ta, tb, tsame = make_pairs(yte, 10000, np.random.default_rng(SEED + 1))
    t0 = time.time()
    for ep in range(EPOCHS):
        model.train()
        a, b, same = make_pairs(ytr, PAIRS_PER_EPOCH, rng)
        tot = 0.0
        for k in range(0, PAIRS_PER_EPOCH, BATCH):
            xa = torch.from_numpy(xtr[a[k:k + BATCH]])
            xb = torch.from_numpy(xtr[b[k:k + BATCH]])
            s = model(xa, xb)[:, 0]
            loss = F.binary_cross_entropy_with_logits(s - t, torch.from_numpy(same[k:k + BATCH]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss) * len(xa)
        sched.step()
        acc = accuracy(model, float(t), xte, ta, tb, tsame)
        print(f"epoch {ep + 1}: loss {tot / PAIRS_PER_EPOCH:.4f} threshold {float(t):.4f} "
              f"test pair accuracy {acc:.4f} ({time.time() - t0:.0f}s)", flush=True)
    model.eval()
    thr = float(t)
    acc = accuracy(model, thr, xte, ta, tb, tsame)
    print(f"FINAL test pair accuracy (10000 t10k pairs, half same-class): {acc:.4f}, "
          f"threshold {thr:.6f}")

    # 8 t10k pairs: same class / different class alternating, first 16 images
    # of distinct indices, chosen deterministically
    r = np.random.default_rng(7)
    by_class = [np.flatnonzero(yte == c) for c in range(10)]
    pa, pb, ps = [], [], []
    for k in range(8):
        c = k % 10
        i = by_class[c][k]
        if k % 2 == 0:
            j = by_class[c][k + 50]
        else:
            j = by_class[(c + 1 + r.integers(0, 9)) % 10][k]
        pa.append(i)
        pb.append(j)
        ps.append(int(yte[i] == yte[j]))
    x8, y8 = xte[pa], xte[pb]
    with torch.no_grad():
        s8 = model(torch.from_numpy(x8), torch.from_numpy(y8)).numpy()
    np.save(os.path.join(HERE, "fmnist_matcher.x.npy"), np.ascontiguousarray(x8))
    np.save(os.path.join(HERE, "fmnist_matcher.y.npy"), np.ascontiguousarray(y8))
    np.save(os.path.join(HERE, "fmnist_matcher.same.npy"), np.array(ps, np.int64))
    np.save(os.path.join(HERE, "fmnist_matcher.scores.npy"), s8.astype(np.float32))
    print("pairs (t10k index a, b, classes, same, score):")
    for k in range(8):
        print(f"  {pa[k]:5d} {pb[k]:5d}  {yte[pa[k]]} {yte[pb[k]]}  {ps[k]}  {s8[k, 0]:.4f}")

    path = os.path.join(HERE, "fmnist_matcher.onnx")
    torch.onnx.export(model, (torch.from_numpy(x8[:1]), torch.from_numpy(y8[:1])), path,
                      opset_version=OPSET, input_names=["x", "y"], output_names=["score"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}, "score": {0: "batch"}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    print("ops:", " ".join(n.op_type for n in m.graph.node))
    print(f"params: {sum(p.numel() for p in model.parameters())}, threshold {thr:.6f}, "
          f"accuracy {acc:.4f}, seed {SEED}, {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
