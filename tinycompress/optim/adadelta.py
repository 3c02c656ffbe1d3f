"""Adadelta (torch.optim.Adadelta): a per-coordinate step from running averages of g² and Δ²."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check, _effective_grad


class Adadelta(Optimizer):
    r"""``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, maximize=False)``.

    For each parameter θ with gradient ∇ (torch's formulas, Zeiler 2012 with a learning rate)::

        g = ∇ (or −∇ if maximize) + weight_decay·θ
        v = ρ·v + (1 − ρ)·g²
        Δ = √(u + eps) / √(v + eps) · g
        u = ρ·u + (1 − ρ)·Δ²
        θ = θ − lr·Δ

    State per parameter: ``'step'`` (int), ``'square_avg'`` v, ``'acc_delta'`` u.
    ``foreach`` is accepted for torch's signature and ignored (NumPy has one implementation).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 maximize=False) -> None:
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One Adadelta step over every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, rho, eps, wd = (float(group[k]) for k in ("lr", "rho", "eps", "weight_decay"))
            for p in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p.array)
                    state["acc_delta"] = np.zeros_like(p.array)
                state["step"] += 1
                arrays = (p.array, p.grad.array, state["square_avg"], state["acc_delta"])
                for theta, grad, v, u, gbuf, std, delta in self._blocks(arrays, 3):
                    g = _effective_grad(theta, grad, group["maximize"], wd, gbuf)
                    v *= rho
                    np.multiply(g, 1 - rho, out=std)
                    std *= g
                    v += std                                                # v = ρ·v + (1 − ρ)·g²
                    np.add(v, eps, out=std)
                    np.sqrt(std, out=std)                                   # √(v + eps)
                    np.add(u, eps, out=delta)
                    np.sqrt(delta, out=delta)
                    delta /= std
                    delta *= g                                              # Δ = √(u + eps) / √(v + eps) · g
                    u *= rho
                    np.multiply(delta, 1 - rho, out=std)
                    std *= delta
                    u += std                                                # u = ρ·u + (1 − ρ)·Δ²
                    delta *= -lr
                    theta += delta                                          # θ − lr·Δ
        return loss
