"""06 — Batch norm's running statistics, by hand.

In training, BatchNorm normalises with the batch's mean and biased variance, and updates
    running_mean = (1 − momentum) · running_mean + momentum · batch mean
    running_var  = (1 − momentum) · running_var  + momentum · batch variance (unbiased, n − 1)
In eval mode it normalises with the running statistics instead.
"""
import numpy as np

import tinycompress as tc

rng = np.random.default_rng(0)
bn = tc.nn.BatchNorm1d(3, momentum=0.1)
mean, var = np.zeros(3), np.ones(3)                          # the buffers' starting values
for step in range(3):
    x = rng.normal(loc=[0.0, 5.0, -2.0], scale=[1.0, 2.0, 0.5], size=(8, 3)).astype(np.float32)
    y = bn(tc.tensor(x))
    mean = 0.9 * mean + 0.1 * x.mean(axis=0)
    var = 0.9 * var + 0.1 * x.var(axis=0, ddof=1)
    by_hand = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + bn.eps)
    assert np.allclose(y.array, by_hand, atol=1e-5)          # train mode: the batch's own statistics
    print(f"step {step + 1}: running_mean {np.round(bn.running_mean.array, 4)}  by hand {np.round(mean, 4)}")

assert np.allclose(bn.running_mean.array, mean, atol=1e-6) and np.allclose(bn.running_var.array, var, atol=1e-5)
print("running_var", np.round(bn.running_var.array, 4), " by hand", np.round(var, 4),
      " batches tracked", int(bn.num_batches_tracked.array))

bn.eval()
x = rng.standard_normal((2, 3)).astype(np.float32)
eval_by_hand = (x - mean) / np.sqrt(var + bn.eps)
assert np.allclose(bn(tc.tensor(x)).array, eval_by_hand, atol=1e-5)
print("eval mode uses the running statistics:", np.round(eval_by_hand[0], 4))
