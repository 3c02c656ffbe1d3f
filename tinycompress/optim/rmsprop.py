"""RMSprop (torch.optim.RMSprop), plain or centered, with optional momentum."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check, _effective_grad, _lerp_


class RMSprop(Optimizer):
    r"""``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
    maximize=False)``.

    For each parameter θ with gradient ∇ (torch's formulas)::

        g = ∇ (or −∇ if maximize) + weight_decay·θ
        v = α·v + (1 − α)·g²
        if centered:  ḡ = α·ḡ + (1 − α)·g  (lerp);   d = √(v − ḡ²) + eps
        else:         d = √v + eps
        if momentum > 0:  b = momentum·b + g / d;   θ = θ − lr·b
        else:             θ = θ − lr·g / d

    State per parameter: ``'step'`` (int), ``'square_avg'`` v, ``'momentum_buffer'`` b
    (momentum > 0) and ``'grad_avg'`` ḡ (centered).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False) -> None:
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(0.0 <= momentum, f"Invalid momentum value: {momentum}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(0.0 <= alpha, f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One RMSprop step over every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
            wd, momentum, centered = float(group["weight_decay"]), float(group["momentum"]), group["centered"]
            for p in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p.array)
                    if momentum > 0:
                        state["momentum_buffer"] = np.zeros_like(p.array)
                    if centered:
                        state["grad_avg"] = np.zeros_like(p.array)
                state["step"] += 1
                arrays = (p.array, p.grad.array, state["square_avg"])
                if momentum > 0:
                    arrays += (state["momentum_buffer"],)
                if centered:
                    arrays += (state["grad_avg"],)
                for theta, grad, v, *rest in self._blocks(arrays, 3):
                    b = rest.pop(0) if momentum > 0 else None
                    ga = rest.pop(0) if centered else None
                    gbuf, tmp, d = rest
                    g = _effective_grad(theta, grad, group["maximize"], wd, gbuf)
                    v *= alpha
                    np.multiply(g, 1 - alpha, out=tmp)
                    tmp *= g
                    v += tmp                                                # v = α·v + (1 − α)·g²
                    if centered:
                        _lerp_(ga, g, 1 - alpha, tmp)                       # ḡ = α·ḡ + (1 − α)·g
                        np.multiply(ga, ga, out=d)
                        np.subtract(v, d, out=d)
                        np.sqrt(d, out=d)                                   # √(v − ḡ²)
                    else:
                        np.sqrt(v, out=d)
                    d += eps
                    if momentum > 0:
                        b *= momentum
                        np.divide(g, d, out=tmp)
                        b += tmp                                            # b = momentum·b + g / d
                        np.multiply(b, lr, out=tmp)
                        theta -= tmp                                        # θ − lr·b
                    else:
                        np.multiply(g, -lr, out=tmp)
                        tmp /= d
                        theta += tmp                                        # θ − lr·g / d
        return loss
