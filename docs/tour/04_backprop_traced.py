"""04 — Backprop, traced: every step of the backward of a two-layer network, in the order it runs.

Under ``tc.autograd.trace()`` each Function node prints its name, its backward's formula, the gradient
it received and what it passed on (with norms). ``to_dot`` draws the same graph with values, saved tensors
and gradients (an SVG with Graphviz's ``dot``, DOT text without).
"""
import os
import sys

import numpy as np

import tinycompress as tc
import tinycompress.nn.functional as F

tc.manual_seed(0)
model = tc.nn.Sequential(tc.nn.Linear(4, 3), tc.nn.ReLU(), tc.nn.Linear(3, 2))
x = tc.tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
target = tc.tensor(np.array([0, 1, 1, 0, 1]))
loss = F.cross_entropy(model(x), target)

with tc.autograd.trace() as steps:
    loss.backward(retain_graph=True)

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.getcwd(), "backprop.svg")
written = tc.autograd.graph.render(tc.autograd.to_dot(loss, show_values=True, show_grads=True), out)
print(f"{len(steps)} steps; the graph with values and gradients is in {written}")
# what reached the leaves (the parameters) is what they hold in .grad
to_leaves = sorted(g[1] for s in steps for g in s.grad_inputs if g is not None and g[2].startswith("leaf"))
assert np.allclose(to_leaves, sorted(float(np.linalg.norm(p.grad.array)) for p in model.parameters()))
