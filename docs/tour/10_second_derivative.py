"""10 — A second derivative: differentiate the backward.

Every backward is written with tinycompress ops, so ``create_graph=True`` records it as a graph that can
be differentiated again. tanh'' = −2 tanh · (1 − tanh²), by hand; and one Newton step on a function of
two variables with its Hessian–vector products.
"""
import numpy as np

import tinycompress as tc
from tinycompress.autograd.functional import hessian

x = tc.tensor(np.linspace(-2, 2, 5), requires_grad=True)
(d1,) = tc.autograd.grad(x.tanh().sum(), x, create_graph=True)     # tanh' as a graph
(d2,) = tc.autograd.grad(d1.sum(), x)                              # ... differentiated again
t = np.tanh(x.array)
print("tanh''(x) by backward:", np.round(d2.array, 6))
print("tanh''(x) by hand:    ", np.round(-2 * t * (1 - t ** 2), 6))
assert np.allclose(d2.array, -2 * t * (1 - t ** 2), atol=1e-12)


def f(p):                                                           # convex, minimum at (1, 0.5)
    return (p[0] - 1).exp() - p[0] + (p[0] - 2 * p[1]) ** 2


p = tc.tensor(np.array([0.0, 3.0]), requires_grad=True)
for step in range(6):                                              # Newton: p ← p − H⁻¹ ∇f
    (grad,) = tc.autograd.grad(f(p), p)
    H = hessian(f, p).array
    p = tc.tensor(p.array - np.linalg.solve(H, grad.array), requires_grad=True)
print("Newton's minimiser:", np.round(p.array, 4), "(the true one is (1, 0.5))")
assert np.allclose(p.array, [1.0, 0.5], atol=1e-9)
