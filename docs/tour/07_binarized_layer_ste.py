"""07 — A binarized layer and its straight-through estimator (seed 000, Courbariaux et al. 2016).

Forward: y = sign(x) · sign(W)ᵀ, every weight and activation ±1 (sign(0) = +1).
sign has derivative 0 almost everywhere, so backward pretends it was the identity, but only where the
latent value lies in [−1, 1] (the saturating STE):  ∂L/∂W = (∂L/∂W_b) · 1{|W| ≤ 1}.
The latent float weights W are what the optimizer trains; only their signs are used.
"""
import numpy as np

import tinycompress as tc
from tinycompress.compress.binary import BinarizedLinear

tc.manual_seed(0)
layer = BinarizedLinear(4, 3)
with tc.no_grad():
    layer.weight.array[0, :2] = [1.5, -2.0]                  # two latent weights outside [−1, 1]
x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
g = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)

y = layer(tc.tensor(x))
y.backward(tc.tensor(g))

sign = lambda a: np.where(a >= 0, 1.0, -1.0).astype(np.float32)
w = layer.weight.array
assert np.array_equal(y.array, sign(x) @ sign(w).T)          # forward: ±1 arithmetic
grad_wb = g.T @ sign(x)                                      # ∂L/∂W_b, as for any linear layer
grad_w = grad_wb * (np.abs(w) <= 1)                          # the STE's mask
assert np.allclose(layer.weight.grad.array, grad_w, atol=1e-6)
print("outputs are integers in [-4, 4]:", np.unique(y.array))
print("latent weights row 0:", np.round(w[0], 3))
print("their gradient row 0:", np.round(layer.weight.grad.array[0], 3), "(zero where |w| > 1)")
