#!/usr/bin/env python3
"""Writes tests/data/ocsvm/: a one-class SVM fitted by scikit-learn and
exported to libsvm's text model format, with reference decision values.

    /usr/bin/python3 tests/data/make_ocsvm_fixtures.py

sklearn's OneClassSVM wraps libsvm: dual_coef_ are libsvm's sv_coef
(alpha_j > 0), intercept_ = -rho, decision_function = sum_j alpha_j
exp(-gamma ||x - u_j||^2) - rho (libsvm's svm_predict_values).  The export
writes exactly what svm_save_model writes for such a model (%.17g numbers,
zero features omitted, 1-based indices).
"""
import os
import numpy as np
from sklearn.svm import OneClassSVM

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ocsvm")
os.makedirs(here, exist_ok=True)
rng = np.random.default_rng(20240601)

D = 7
X = rng.normal(size=(300, D)).astype(np.float32)
X[rng.random(X.shape) < 0.3] = 0.0            # sparse features: omitted in the file
X[:, 5] = 0.0                                  # a feature that is 0 in every SV
gamma, nu = 0.25, 0.15
m = OneClassSVM(kernel="rbf", gamma=gamma, nu=nu, tol=1e-6).fit(X)

with open(os.path.join(here, "sk_ocsvm.libsvm"), "w") as f:
    f.write("svm_type one_class\nkernel_type rbf\n")
    f.write("gamma %.17g\nnr_class 2\ntotal_sv %d\n" % (gamma, len(m.support_)))
    f.write("rho %.17g\nSV\n" % (-m.intercept_[0]))
    for a, u in zip(m.dual_coef_[0], m.support_vectors_):
        f.write("%.17g " % a)
        f.write("".join("%d:%.17g " % (i + 1, v) for i, v in enumerate(u) if v != 0))
        f.write("\n")

# test points: some inside, some near the boundary, some far out; the last
# one is an SV itself (d = 0 to it)
T = np.concatenate([rng.normal(size=(40, D)), 2.5 * rng.normal(size=(20, D)),
                    rng.normal(size=(4, D)) + 30.0]).astype(np.float32)
T[:, 5] = 0.0
T = np.concatenate([T, m.support_vectors_[:1].astype(np.float32)])
np.save(os.path.join(here, "sk_points.npy"), T)
np.save(os.path.join(here, "sk_decision.npy"), m.decision_function(T.astype(np.float64)))
print("support vectors:", len(m.support_), "rho:", -m.intercept_[0],
      "outliers among the points:", int((m.decision_function(T) < 0).sum()), "of", len(T))
