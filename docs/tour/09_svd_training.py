"""09 — SVD training (Yang et al. 2020): a layer kept as W = U diag(s) Vᵀ, trained in that form, then cut
to the rank that holds most of the energy Σ s².

``LinearSVD.from_dense`` starts from a dense layer's exact SVD (same function, to rounding); the forward
runs through the factors, y = ((x V) ⊙ s) Uᵀ + b. ``truncate`` keeps the smallest rank with the
requested share of Σ s²; what is lost is exactly the dropped singular values.
"""
import numpy as np

import tinycompress as tc
from tinycompress.compress.lowrank import LinearSVD, truncate

tc.manual_seed(0)
rng = np.random.default_rng(0)
dense = tc.nn.Linear(20, 16)
with tc.no_grad():                                            # a weight that is nearly rank 3, plus noise
    low = rng.standard_normal((16, 3)) @ rng.standard_normal((3, 20))
    dense.weight.array[...] = (low + 0.01 * rng.standard_normal((16, 20))).astype(np.float32)
svd = LinearSVD.from_dense(dense)
x = tc.tensor(rng.standard_normal((5, 20)).astype(np.float32))
assert np.allclose(svd(x).array, dense(x).array, atol=1e-4)
print("singular values:", np.round(np.sort(np.abs(svd.s.array))[::-1][:6], 3), "...")

model = tc.nn.Sequential(svd)
summary = truncate(model, energy=0.999)
s_all = np.linalg.svd(dense.weight.array.astype(np.float64), compute_uv=False)
rank = svd.s.shape[0]
print(f"kept rank {rank} of {len(s_all)} for 99.9% of the energy:", summary[0])
assert rank == 3
lost = np.sqrt((s_all[rank:] ** 2).sum())                     # ‖W − W_r‖_F (Eckart–Young)
error = np.linalg.norm(dense.weight.array - (svd.U.array * svd.s.array) @ svd.V.array.T)
assert abs(error - lost) < 1e-3 * max(lost, 1e-6) + 1e-5
print(f"‖W − W_3‖ = {error:.5f}, the dropped singular values' norm {lost:.5f}")
