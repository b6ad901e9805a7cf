#!/usr/bin/python3
"""Reference data for tests/test_kmeans.c and tests/cli/kmeans.sh (scikit-learn).

Run from the repository root with Debian's interpreter (numpy + scikit-learn):
    /usr/bin/python3 tests/data/make_kmeans_fixtures.py
Writes tests/data/kmeans/*.npy (float32 unless noted).  Deterministic.
"""
import os

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kmeans")
os.makedirs(out, exist_ok=True)


def save(name, a):
    np.save(os.path.join(out, name), a)


rng = np.random.default_rng(20240611)

# 1. three well-separated 2-d blobs (std 0.3 around centres 6 apart)
centres = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]], dtype=np.float32)
blobs = np.concatenate([c + 0.3 * rng.standard_normal((100, 2)) for c in centres])
blobs = blobs[rng.permutation(len(blobs))].astype(np.float32)
save("blobs.npy", blobs)
save("blobs_centres.npy", centres)

# 2. scikit-learn reference: 5-d data, K=4 (overlapping clusters)
X = (rng.standard_normal((400, 5)) + np.repeat(rng.uniform(-3, 3, (4, 5)), 100, axis=0))
X = X.astype(np.float32)
km = KMeans(n_clusters=4, n_init=10, random_state=0, algorithm="lloyd", tol=1e-6,
            max_iter=500).fit(X.astype(np.float64))
save("sk_X.npy", X)
save("sk_centres.npy", km.cluster_centers_.astype(np.float32))
save("sk_labels.npy", km.labels_.astype(np.float32))
save("sk_inertia.npy", np.array([km.inertia_], dtype=np.float64))

# 3. PCA reference: 8-d correlated data, 3 components (sign: largest |entry| positive)
A = rng.standard_normal((8, 8))
Y = (rng.standard_normal((300, 8)) * np.linspace(3, 0.2, 8)) @ A + rng.uniform(-1, 1, 8)
Y = Y.astype(np.float32)
pca = PCA(n_components=3, svd_solver="full").fit(Y.astype(np.float64))
comp = pca.components_.copy()
for p in range(3):
    if comp[p, np.argmax(np.abs(comp[p]))] < 0:
        comp[p] = -comp[p]
save("pca_X.npy", Y)
save("pca_components.npy", comp.astype(np.float32))
save("pca_mean.npy", pca.mean_.astype(np.float32))
save("pca_variance.npy", pca.explained_variance_.astype(np.float64))

# 4. bad inputs for the CLI tests
bad = blobs[:20].copy()
bad[7, 1] = np.nan
save("nan.npy", bad)
save("blobs3d.npy", np.concatenate([blobs[:20], blobs[:20, :1]], axis=1))
print("fixtures written to", out)
