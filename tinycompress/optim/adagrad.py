"""Adagrad (torch.optim.Adagrad): steps scaled by the root of each coordinate's summed g²."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check, _effective_grad


class Adagrad(Optimizer):
    r"""``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
    foreach=None, *, maximize=False)``.

    For each parameter θ with gradient ∇, at step t = 1, 2, ... (torch's formulas)::

        g   = ∇ (or −∇ if maximize) + weight_decay·θ
        clr = lr / (1 + (t − 1)·lr_decay)
        s   = s + g²                       (s starts at initial_accumulator_value)
        θ   = θ − clr · g / (√s + eps)

    State per parameter: ``'step'`` (int), ``'sum'`` s. As torch, the state of every parameter
    given to the constructor exists from the start (step 0, s full of ``initial_accumulator_value``,
    the constructor's value whatever a group says); parameters added later get it at their first step.
    ``foreach`` is accepted for torch's signature and ignored.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False) -> None:
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= lr_decay, f"Invalid lr_decay value: {lr_decay}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(0.0 <= initial_accumulator_value,
               f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p) -> dict:
        state = self.state[p]
        if len(state) == 0:
            state["step"] = 0
            state["sum"] = np.full_like(p.array, float(self.defaults["initial_accumulator_value"]))
        return state

    def step(self, closure=None):
        """One Adagrad step over every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, lr_decay, eps, wd = (float(group[k]) for k in ("lr", "lr_decay", "eps", "weight_decay"))
            for p in self._params_with_grad(group):
                state = self._init_state(p)
                state["step"] += 1
                clr = lr / (1 + (state["step"] - 1) * lr_decay)
                for theta, grad, s, gbuf, std, upd in self._blocks((p.array, p.grad.array, state["sum"]), 3):
                    g = _effective_grad(theta, grad, group["maximize"], wd, gbuf)
                    np.multiply(g, g, out=std)
                    s += std                                                # s = s + g²
                    np.sqrt(s, out=std)
                    std += eps
                    np.multiply(g, -clr, out=upd)
                    upd /= std
                    theta += upd                                            # θ − clr·g / (√s + eps)
        return loss
