#!/usr/bin/python3
"""Train the neonlrp example LSTM on Fashion-MNIST (rows as time steps) and
export it to ONNX.

Run from the repository root with Debian's interpreter (python3-torch 1.13,
python3-onnx 1.12, python3-numpy):

    /usr/bin/python3 models/train_fmnist_lstm.py

The network reads an image row by row: T = 28 steps of F = 28 pixels,
nn.LSTM(28, 128, batch_first=True), and classifies the last hidden state
with nn.Linear(128, 10).  Outputs:
    models/fmnist_lstm.onnx            opset 13, dynamic batch, input (N, 28, 28)
    models/fmnist_lstm.input.npy       float32 (16, 28, 28): first 16 t10k images
    models/fmnist_lstm.logits.npy      float32 (16, 10): PyTorch logits for them
    models/fmnist_lstm.labels.npy      int64 (16,)
    datasets/fmnist_sample_rows.npy    float32 (64, 28, 28): datasets/fmnist_sample.npy
                                       as row sequences (same pixels)
The export is checked against an independent numpy LSTM written from the
ONNX operator definition (gate order i, o, f, c).
"""
import gzip
import io
import os
import time
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn

SEED = 4321
EPOCHS = 3
BATCH = 128
LR = 2e-3
HIDDEN = 128
OPSET = 13

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
warnings.filterwarnings("ignore")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(split):
    x = read_idx(os.path.join(FMNIST_DIR, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(FMNIST_DIR, f"{split}-labels-idx1-ubyte.gz"))
    return np.ascontiguousarray(x.astype(np.float32) / 255.0), y.astype(np.int64)


class RowLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, HIDDEN, batch_first=True)
        self.fc = nn.Linear(HIDDEN, 10)

    def forward(self, x):            # x (N, 28 rows, 28 pixels)
        y, _ = self.lstm(x)
        return self.fc(y[:, -1, :])  # the last step's hidden state


def numpy_onnx_lstm(m, x):
    """Evaluates the exported graph's LSTM + Gemm from the initializers, with
    the ONNX definitions (not torch's code): Y = LSTM(X^T), logits = Gemm."""
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    lstm = [n for n in m.graph.node if n.op_type == "LSTM"][0]
    gemm = [n for n in m.graph.node if n.op_type == "Gemm"][0]
    W, R, B = (init[lstm.input[k]][0] for k in (1, 2, 3))
    H = R.shape[1]
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))
    h = np.zeros((x.shape[0], H), np.float64)
    c = np.zeros_like(h)
    for t in range(x.shape[1]):
        z = x[:, t, :] @ W.T + h @ R.T + B[:4 * H] + B[4 * H:]
        i, o, f, g = sig(z[:, :H]), sig(z[:, H:2 * H]), sig(z[:, 2 * H:3 * H]), np.tanh(z[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
    return h @ init[gemm.input[1]].T + init[gemm.input[2]]


def main():
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(2)
    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    model = RowLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)
    rng = np.random.default_rng(SEED)
    Xt, Yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for ep in range(EPOCHS):
        t0 = time.time()
        model.train()
        perm = rng.permutation(len(xtr))
        for b in range(0, len(perm), BATCH):
            idx = torch.from_numpy(perm[b:b + BATCH])
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(Xt[idx]), Yt[idx])
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(torch.from_numpy(xte[k:k + 1000])).argmax(1)
                              for k in range(0, len(xte), 1000)])
        acc = (pred.numpy() == yte).mean()
        print(f"epoch {ep + 1}: test accuracy {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)

    model.eval()
    x16 = xte[:16]
    with torch.no_grad():
        logits = model(torch.from_numpy(x16)).numpy()
    f = io.BytesIO()
    torch.onnx.export(model, torch.from_numpy(x16[:2]), f, opset_version=OPSET,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    m = onnx.load_from_string(f.getvalue())
    onnx.checker.check_model(m)
    ref = numpy_onnx_lstm(m, x16.astype(np.float64))
    err = np.abs(ref - logits).max()
    print("numpy ONNX LSTM vs torch: max |diff|", err)
    assert err < 1e-4
    print("ops:", ", ".join(n.op_type for n in m.graph.node))
    onnx.save(m, os.path.join(HERE, "fmnist_lstm.onnx"))
    np.save(os.path.join(HERE, "fmnist_lstm.input.npy"), np.ascontiguousarray(x16, np.float32))
    np.save(os.path.join(HERE, "fmnist_lstm.logits.npy"), np.ascontiguousarray(logits, np.float32))
    np.save(os.path.join(HERE, "fmnist_lstm.labels.npy"), yte[:16].astype(np.int64))
    np.save(os.path.join(ROOT, "datasets", "fmnist_sample_rows.npy"),
            np.ascontiguousarray(xte[:64], np.float32))
    print(f"final test accuracy (10,000 t10k images): {acc:.4f}")


if __name__ == "__main__":
    main()
