"""01 — A derivative by hand, by finite differences, and by backward: three ways, one number.

f(x) = x · tanh(x)   =>   f'(x) = tanh(x) + x · (1 − tanh²(x))      (product rule, then tanh' = 1 − tanh²)
"""
import numpy as np

import tinycompress as tc

x0 = 0.7
by_hand = np.tanh(x0) + x0 * (1 - np.tanh(x0) ** 2)

eps = 1e-6
f = lambda v: v * np.tanh(v)
by_differences = (f(x0 + eps) - f(x0 - eps)) / (2 * eps)          # central difference: error O(eps²)

x = tc.tensor(x0, dtype=tc.float64, requires_grad=True)
y = x * x.tanh()
y.backward()                                                       # dy/dx lands in x.grad
by_backward = x.grad.item()

print(f"by hand        {by_hand:.12f}")
print(f"by differences {by_differences:.12f}")
print(f"by backward    {by_backward:.12f}")
assert abs(by_backward - by_hand) < 1e-12 and abs(by_differences - by_hand) < 1e-8
