"""Adam and AdamW (torch.optim.Adam, torch.optim.AdamW)."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check, _effective_grad, _lerp_


class Adam(Optimizer):
    r"""``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
    maximize=False, decoupled_weight_decay=False)``.

    For each parameter θ with gradient ∇, at step t = 1, 2, ... (torch's formulas)::

        g = ∇ (or −∇ if maximize)
        θ = θ·(1 − lr·weight_decay)            if decoupled_weight_decay (AdamW)
        g = g + weight_decay·θ                 otherwise (L2 penalty)
        m = β1·m + (1 − β1)·g                  (torch's lerp)
        v = β2·v + (1 − β2)·g²
        v̂ = max(v̂, v) if amsgrad, else v
        step_size = lr / (1 − β1^t)
        denom     = √v̂ / √(1 − β2^t) + eps
        θ = θ − step_size · m / denom

    State per parameter: ``'step'`` (int), ``'exp_avg'`` m, ``'exp_avg_sq'`` v and, with
    amsgrad, ``'max_exp_avg_sq'`` v̂.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False) -> None:
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(len(betas) == 2, f"betas must be a pair (beta1, beta2), got {betas}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One Adam step over every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            amsgrad, maximize = group["amsgrad"], group["maximize"]
            decoupled = group.get("decoupled_weight_decay", False)
            for p in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.array)
                    state["exp_avg_sq"] = np.zeros_like(p.array)
                    if amsgrad:
                        state["max_exp_avg_sq"] = np.zeros_like(p.array)
                state["step"] += 1
                t = state["step"]
                step_size = lr / (1 - beta1 ** t)
                bias_correction2_sqrt = (1 - beta2 ** t) ** 0.5
                arrays = (p.array, p.grad.array, state["exp_avg"], state["exp_avg_sq"])
                if amsgrad:
                    arrays += (state["max_exp_avg_sq"],)
                for theta, grad, m, v, *rest in self._blocks(arrays, 3):
                    v_max, (gbuf, tmp, upd) = (rest[0], rest[1:]) if amsgrad else (None, rest)
                    if decoupled and wd != 0:
                        theta *= 1 - lr * wd                                # θ·(1 − lr·weight_decay)
                    g = _effective_grad(theta, grad, maximize, 0.0 if decoupled else wd, gbuf)
                    _lerp_(m, g, 1 - beta1, tmp)                            # m = β1·m + (1 − β1)·g
                    v *= beta2
                    np.multiply(g, 1 - beta2, out=tmp)
                    tmp *= g
                    v += tmp                                                # v = β2·v + (1 − β2)·g²
                    if amsgrad:
                        np.maximum(v_max, v, out=v_max)                     # v̂ = max(v̂, v)
                    denom = np.sqrt(v_max if amsgrad else v, out=tmp)
                    denom /= bias_correction2_sqrt
                    denom += eps                                            # √v̂ / √(1 − β2^t) + eps
                    np.multiply(m, -step_size, out=upd)
                    upd /= denom
                    theta += upd                                            # θ − step_size·m / denom
        return loss


class AdamW(Adam):
    r"""``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
    maximize=False)``: Adam with decoupled weight decay (Loshchilov & Hutter)::

        θ = θ·(1 − lr·weight_decay)      before the Adam step, which then sees the plain gradient

    (see :class:`Adam` for the rest of the update).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def _after_load(self) -> None:
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
