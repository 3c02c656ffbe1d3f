"""Stochastic gradient descent, with momentum and Nesterov momentum (torch.optim.SGD)."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check, _effective_grad


class SGD(Optimizer):
    r"""``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False)``.

    For each parameter θ with gradient ∇ (torch's formulas)::

        g = ∇ (or −∇ if maximize) + weight_decay·θ
        if momentum ≠ 0:
            b = g                                  on the first step (a copy)
            b = momentum·b + (1 − dampening)·g     afterwards
            g = g + momentum·b   if nesterov  else  g = b
        θ = θ − lr·g

    State per parameter: ``'momentum_buffer'`` (only when momentum ≠ 0).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False) -> None:
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(not nesterov or (momentum > 0 and dampening == 0),
               "Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One SGD step over every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, momentum = float(group["lr"]), float(group["momentum"])
            dampening, wd = float(group["dampening"]), float(group["weight_decay"])
            nesterov, maximize = group["nesterov"], group["maximize"]
            for p in self._params_with_grad(group):
                if momentum == 0:
                    for theta, grad, gbuf, tmp in self._blocks((p.array, p.grad.array), 2):
                        g = _effective_grad(theta, grad, maximize, wd, gbuf)
                        np.multiply(g, lr, out=tmp)
                        theta -= tmp                                        # θ − lr·g
                    continue
                state = self.state[p]
                first = state.get("momentum_buffer") is None
                if first:
                    state["momentum_buffer"] = np.empty_like(p.array)
                for theta, grad, b, gbuf, tmp in self._blocks((p.array, p.grad.array, state["momentum_buffer"]), 2):
                    g = _effective_grad(theta, grad, maximize, wd, gbuf)
                    if first:
                        np.copyto(b, g)                                     # b = g on the first step
                    else:
                        b *= momentum
                        if dampening == 0:
                            b += g
                        else:
                            np.multiply(g, 1 - dampening, out=tmp)
                            b += tmp                                        # b = momentum·b + (1 − dampening)·g
                    if nesterov:
                        np.multiply(b, momentum, out=tmp)
                        tmp += g                                            # g + momentum·b
                        tmp *= lr
                    else:
                        np.multiply(b, lr, out=tmp)
                    theta -= tmp                                            # θ − lr·(g + momentum·b) or θ − lr·b
        return loss
