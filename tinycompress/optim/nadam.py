"""NAdam (torch.optim.NAdam): Adam with Nesterov momentum and Dozat's momentum schedule."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check, _effective_grad, _lerp_


class NAdam(Optimizer):
    r"""``NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
    decoupled_weight_decay=False, *, foreach=None, maximize=False)``.

    For each parameter θ with gradient ∇, at step t = 1, 2, ... (torch's formulas)::

        g = ∇ (or −∇ if maximize)
        θ = θ·(1 − lr·weight_decay)            if decoupled_weight_decay
        g = g + weight_decay·θ                 otherwise
        μ_t = β1·(1 − ½·0.96^(t·momentum_decay)),   μ_{t+1} likewise
        Π_t = Π_{t−1}·μ_t                      (the 'mu_product', Π_0 = 1)
        m = β1·m + (1 − β1)·g                  (torch's lerp)
        v = β2·v + (1 − β2)·g²
        d = √(v / (1 − β2^t)) + eps
        θ = θ − lr·(1 − μ_t)/(1 − Π_t) · g / d − lr·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m / d

    State per parameter: ``'step'`` (int), ``'mu_product'`` Π (a Python float; torch keeps it in a
    float32 scalar tensor and so rounds each product to float32, which we reproduce),
    ``'exp_avg'`` m, ``'exp_avg_sq'`` v. ``foreach`` is accepted and ignored.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False) -> None:
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(len(betas) == 2, f"betas must be a pair (beta1, beta2), got {betas}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(0.0 <= momentum_decay, f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One NAdam step over every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            momentum_decay, decoupled = float(group["momentum_decay"]), group["decoupled_weight_decay"]
            for p in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["mu_product"] = 1.0
                    state["exp_avg"] = np.zeros_like(p.array)
                    state["exp_avg_sq"] = np.zeros_like(p.array)
                state["step"] += 1
                t = state["step"]
                bias_correction2 = 1 - beta2 ** t
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * momentum_decay)))
                mu_product = float(np.float32(state["mu_product"]) * np.float32(mu))
                state["mu_product"] = mu_product
                coef_g = -lr * (1.0 - mu) / (1.0 - mu_product)
                coef_m = (-lr * mu_next) / (1.0 - mu_product * mu_next)
                arrays = (p.array, p.grad.array, state["exp_avg"], state["exp_avg_sq"])
                for theta, grad, m, v, gbuf, tmp, denom in self._blocks(arrays, 3):
                    if decoupled and wd != 0:
                        theta *= 1 - lr * wd                                # θ·(1 − lr·weight_decay)
                    g = _effective_grad(theta, grad, group["maximize"], 0.0 if decoupled else wd, gbuf)
                    _lerp_(m, g, 1 - beta1, tmp)                            # m = β1·m + (1 − β1)·g
                    v *= beta2
                    np.multiply(g, 1 - beta2, out=tmp)
                    tmp *= g
                    v += tmp                                                # v = β2·v + (1 − β2)·g²
                    np.divide(v, bias_correction2, out=denom)
                    np.sqrt(denom, out=denom)
                    denom += eps                                            # d = √(v / (1 − β2^t)) + eps
                    np.multiply(g, coef_g, out=tmp)
                    tmp /= denom
                    theta += tmp                                            # the gradient's Nesterov part
                    np.multiply(m, coef_m, out=tmp)
                    tmp /= denom
                    theta += tmp                                            # the momentum's part
        return loss
