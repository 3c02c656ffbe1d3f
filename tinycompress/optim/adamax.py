"""Adamax, Adam with the infinity norm (torch.optim.Adamax)."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check, _effective_grad, _lerp_


class Adamax(Optimizer):
    r"""``Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False)``.

    For each parameter θ with gradient ∇, at step t = 1, 2, ... (torch's formulas)::

        g = ∇ (or −∇ if maximize) + weight_decay·θ
        m = β1·m + (1 − β1)·g                  (torch's lerp)
        u = max(β2·u, |g| + eps)               (eps inside the max, as torch)
        θ = θ − (lr / (1 − β1^t)) · m / u

    State per parameter: ``'step'`` (int), ``'exp_avg'`` m, ``'exp_inf'`` u.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *,
                 maximize=False) -> None:
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(len(betas) == 2, f"betas must be a pair (beta1, beta2), got {betas}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One Adamax step over every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            for p in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.array)
                    state["exp_inf"] = np.zeros_like(p.array)
                state["step"] += 1
                clr = lr / (1 - beta1 ** state["step"])
                arrays = (p.array, p.grad.array, state["exp_avg"], state["exp_inf"])
                for theta, grad, m, u, gbuf, tmp in self._blocks(arrays, 2):
                    g = _effective_grad(theta, grad, group["maximize"], wd, gbuf)
                    _lerp_(m, g, 1 - beta1, tmp)                            # m = β1·m + (1 − β1)·g
                    u *= beta2
                    np.abs(g, out=tmp)
                    tmp += eps
                    np.maximum(u, tmp, out=u)                               # u = max(β2·u, |g| + eps)
                    np.multiply(m, -clr, out=tmp)
                    tmp /= u
                    theta += tmp                                            # θ − clr·m / u
        return loss
