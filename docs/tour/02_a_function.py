"""02 — Write a Function: forward in NumPy, backward as its formula in tinycompress ops.

Softplus(x) = log(1 + eˣ), whose derivative is the sigmoid σ(x). The backward is written with tc ops on
Tensors, so it is itself differentiable (tour 10); gradcheck compares it with finite differences.
"""
import numpy as np

import tinycompress as tc


class Softplus(tc.autograd.Function):
    @staticmethod
    def forward(ctx, x):                          # x: a Tensor; the NumPy work is on x.array
        ctx.save_for_backward(x)
        return np.logaddexp(0, x.array)           # log(1 + eˣ) without overflow

    @staticmethod
    def backward(ctx, grad):
        """d softplus(x) = g · σ(x)"""
        (x,) = ctx.saved_tensors
        return grad * x.sigmoid()


x = tc.tensor(np.linspace(-3, 3, 7), requires_grad=True)
y = Softplus.apply(x)
y.sum().backward()
print("x          ", x.array)
print("softplus(x)", np.round(y.array, 4))
print("grad       ", np.round(x.grad.array, 4), "(= sigmoid(x))")
print("graph node ", y.grad_fn.name())

ok = tc.autograd.gradcheck(Softplus.apply, [tc.tensor(np.random.default_rng(0).standard_normal(5), requires_grad=True)])
print("gradcheck (finite differences, float64):", ok)
assert ok and np.allclose(x.grad.array, 1 / (1 + np.exp(-x.array)))
