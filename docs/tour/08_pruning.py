"""08 — Pruning: keep the largest weights, zero the rest, and keep them zero while training.

``tc.nn.utils.prune`` is torch's module: ``l1_unstructured`` replaces ``weight`` by ``weight_orig`` (trained)
times ``weight_mask`` (a buffer), re-applied by a forward pre-hook before every forward. The gradient
reaching ``weight_orig`` is masked too (the chain rule through the product), so pruned entries stay pruned.
"""
import numpy as np

import tinycompress as tc
import tinycompress.nn.functional as F
from tinycompress.nn.utils import prune

tc.manual_seed(0)
layer = tc.nn.Linear(6, 4)
w0 = layer.weight.array.copy()
prune.l1_unstructured(layer, "weight", amount=0.5)           # the 12 smallest |w| of 24

mask = layer.weight_mask.array
threshold = np.sort(np.abs(w0).ravel())[12]
assert np.array_equal(mask, (np.abs(w0) >= threshold).astype(mask.dtype))   # exactly the largest half kept
print(f"kept {int(mask.sum())} of {mask.size} weights: those with |w| >= {threshold:.4f}")

optimizer = tc.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
rng = np.random.default_rng(0)
for _ in range(20):
    x = tc.tensor(rng.standard_normal((8, 6)).astype(np.float32))
    optimizer.zero_grad()
    F.mse_loss(layer(x), tc.tensor(rng.standard_normal((8, 4)).astype(np.float32))).backward()
    optimizer.step()
assert np.all(layer.weight.array[mask == 0] == 0)             # the effective weight stays sparse
assert np.all(layer.weight_orig.array[mask == 0] == w0[mask == 0])   # masked gradients: pruned entries never move
print("after 20 SGD steps, pruned weights are still exactly 0:", int((layer.weight.array == 0).sum()), "zeros")
