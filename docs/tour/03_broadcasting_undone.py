"""03 — Broadcasting, undone: a gradient is summed back to its input's shape.

a (3, 1) + b (4,) broadcasts to (3, 4). Each element of a was used 4 times (along the columns), each of b
3 times (along the rows), so ∂L/∂a sums the upstream gradient over columns and ∂L/∂b over rows. The
engine does this in one place (``sum_to_shape``), for every op.
"""
import numpy as np

import tinycompress as tc

a = tc.tensor(np.arange(3.0).reshape(3, 1), requires_grad=True)
b = tc.tensor(np.arange(4.0), requires_grad=True)
y = a + b
g = np.arange(12.0).reshape(3, 4)                 # an upstream gradient dL/dy (not ones: sums differ per row)
y.backward(tc.tensor(g))

print("y.shape", y.shape, " a.grad.shape", a.grad.shape, " b.grad.shape", b.grad.shape)
print("a.grad", a.grad.array.ravel(), "= row sums of g", g.sum(axis=1))
print("b.grad", b.grad.array, "= column sums of g", g.sum(axis=0))
print("sum_to_shape(g, (3, 1)) ->", tc.autograd.sum_to_shape(g, (3, 1)).ravel())
assert np.array_equal(a.grad.array.ravel(), g.sum(axis=1)) and np.array_equal(b.grad.array, g.sum(axis=0))
