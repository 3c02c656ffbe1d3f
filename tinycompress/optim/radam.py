"""RAdam (torch.optim.RAdam): Adam whose adaptive step is rectified by its variance (Liu et al. 2019)."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check, _effective_grad, _lerp_


class RAdam(Optimizer):
    r"""``RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, *,
    foreach=None, maximize=False)``.

    For each parameter θ with gradient ∇, at step t = 1, 2, ... (torch's formulas)::

        g = ∇ (or −∇ if maximize)
        θ = θ·(1 − lr·weight_decay)            if decoupled_weight_decay
        g = g + weight_decay·θ                 otherwise
        m = β1·m + (1 − β1)·g                  (torch's lerp)
        v = β2·v + (1 − β2)·g²
        ρ∞ = 2/(1 − β2) − 1,   ρ_t = ρ∞ − 2t·β2^t / (1 − β2^t)
        if ρ_t > 5:  r = √((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t))
                     θ = θ − m/(1 − β1^t) · lr · √(1 − β2^t)/(√v + eps) · r
        else:        θ = θ − m/(1 − β1^t) · lr       (plain momentum SGD while the variance is unreliable)

    State per parameter: ``'step'`` (int), ``'exp_avg'`` m, ``'exp_avg_sq'`` v.
    ``foreach`` is accepted and ignored.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False) -> None:
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(len(betas) == 2, f"betas must be a pair (beta1, beta2), got {betas}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One RAdam step over every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            decoupled = group["decoupled_weight_decay"]
            rho_inf = 2 / (1 - beta2) - 1
            for p in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.array)
                    state["exp_avg_sq"] = np.zeros_like(p.array)
                state["step"] += 1
                t = state["step"]
                bias_correction1 = 1 - beta1 ** t
                bias_correction2 = 1 - beta2 ** t
                rho_t = rho_inf - 2 * t * (beta2 ** t) / bias_correction2
                rectify = rho_t > 5.0
                if rectify:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                arrays = (p.array, p.grad.array, state["exp_avg"], state["exp_avg_sq"])
                for theta, grad, m, v, gbuf, tmp, upd in self._blocks(arrays, 3):
                    if decoupled and wd != 0:
                        theta *= 1 - lr * wd                                # θ·(1 − lr·weight_decay)
                    g = _effective_grad(theta, grad, group["maximize"], 0.0 if decoupled else wd, gbuf)
                    _lerp_(m, g, 1 - beta1, tmp)                            # m = β1·m + (1 − β1)·g
                    v *= beta2
                    np.multiply(g, 1 - beta2, out=tmp)
                    tmp *= g
                    v += tmp                                                # v = β2·v + (1 − β2)·g²
                    np.divide(m, bias_correction1, out=upd)
                    upd *= lr                                               # m/(1 − β1^t) · lr
                    if rectify:
                        np.sqrt(v, out=tmp)
                        tmp += eps
                        np.reciprocal(tmp, out=tmp)
                        tmp *= bias_correction2 ** 0.5                      # √(1 − β2^t)/(√v + eps), as torch
                        upd *= tmp
                        upd *= rect
                    theta -= upd
        return loss
