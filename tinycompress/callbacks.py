"""Training callbacks: the hooks ``tinycompress.train.fit`` calls, and the base class.

A callback sees the :class:`~tinycompress.train.Trainer` (``trainer.model``, ``.optimizer``,
``.scheduler``, ``.epoch`` (0-based), ``.epochs``, ``.global_step``, ``.steps_per_epoch``,
``.lr`` and ``.log(message)``) at these points of ``fit``::

    on_train_begin
    for each epoch:  on_epoch_begin
        for each batch:  loss = task loss + Σ callback.extra_loss(trainer)   (None adds nothing)
                         backward, optimizer.step(), on_step_end
        evaluate, on_epoch_end(metrics)  (may add keys to the metrics dict it is given)
    on_train_end

Compression methods plug in here: latent-weight clipping (BNN) in ``on_step_end``, pruning
schedules in ``on_epoch_begin``/``on_step_end``, the SVD regulariser in ``extra_loss``.
Callbacks that keep state implement ``state_dict()``/``load_state_dict()`` (JSON-able values
or ndarrays) so ``--resume`` restores them.
"""
from __future__ import annotations

import json

import numpy as np


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, trainer) -> None:
        pass

    def on_epoch_begin(self, trainer) -> None:
        pass

    def extra_loss(self, trainer):
        """A Tensor to add to the batch loss (e.g. a regulariser), or None."""
        return None

    def on_step_end(self, trainer) -> None:
        pass

    def on_epoch_end(self, trainer, metrics: dict) -> None:
        pass

    def on_train_end(self, trainer) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class GradientFlow(Callback):
    """Gradient flow during training, per layer and per epoch: vanishing or exploding at a glance.

    For every module that holds parameters of its own (a "layer"), averaged over the epoch's steps:

    - ``grad``: the L2 norm of the gradient of its weights (all its own parameters together);
    - ``update``: the L2 norm of what the optimizer step changed in them (lr, momentum, Adam's scaling and
      latent-weight clipping included);
    - ``weight``: the L2 norm of the weights, so that ``update / weight`` reads as a relative step;
    - ``output_grad``: the L2 norm of the gradient that reached the layer's output (from a full backward
      hook, as ``register_full_backward_hook``: the signal backprop carries between layers);
    - ``flip``: for the layers in ``flip_layers`` (binarized ones, whose forward uses sign(W)), the share of
      latent weights whose sign changed over the epoch (Larq's flip ratio; sign(0) counts as +).

    ``history`` holds one row per epoch: ``{"epoch": e, "layers": {name: {...}}}``; ``flip_ratio`` (all
    flip layers together) is also added to the epoch's metrics. ``output_grads=False`` skips the hooks.
    """

    def __init__(self, flip_layers=(), output_grads: bool = True) -> None:
        self.flip_layers = tuple(flip_layers)
        self.output_grads = output_grads
        self.history: list[dict] = []
        self._handles: list = []

    # ------------------------------------------------------------------ set-up
    def _layers(self, model):
        return [(name or type(m).__name__, m) for name, m in model.named_modules()
                if any(True for _ in m.parameters(recurse=False))]

    def on_train_begin(self, trainer) -> None:
        self._model = trainer.model
        self._named = self._layers(trainer.model)
        for h in self._handles:
            h.remove()
        self._handles = []
        if self.output_grads:
            for name, m in self._named:
                self._handles.append(m.register_full_backward_hook(self._hook(name)))
        self.on_epoch_begin(trainer)

    def _hook(self, name):
        def hook(module, grad_input, grad_output):
            g = grad_output[0] if grad_output else None
            if g is not None and module.training:
                self._sums[name]["output_grad"] += _norm(g.array)
                self._counts[name]["output_grad"] += 1
        return hook

    def on_epoch_begin(self, trainer) -> None:
        self._sums = {n: {"grad": 0.0, "update": 0.0, "weight": 0.0, "output_grad": 0.0} for n, _ in self._named}
        self._counts = {n: {"grad": 0, "update": 0, "weight": 0, "output_grad": 0} for n, _ in self._named}
        self._before = {n: [p.array.copy() for p in m.parameters(recurse=False)] for n, m in self._named}
        self._signs = {n: m.weight.array >= 0 for n, m in self._named
                       if isinstance(m, self.flip_layers) and getattr(m, "weight", None) is not None}

    # ------------------------------------------------------------------ per step
    def on_step_end(self, trainer) -> None:
        for name, m in self._named:
            params = list(m.parameters(recurse=False))
            grads = [p.grad.array for p in params if p.grad is not None]
            if grads:
                self._sums[name]["grad"] += _norm(*grads)
                self._counts[name]["grad"] += 1
            before = self._before[name]
            self._sums[name]["update"] += _norm(*[p.array - b for p, b in zip(params, before)])
            self._sums[name]["weight"] += _norm(*[p.array for p in params])
            self._counts[name]["update"] += 1
            self._counts[name]["weight"] += 1
            self._before[name] = [np.copyto(b, p.array) or b if b.shape == p.array.shape else p.array.copy()
                                  for b, p in zip(before, params)]

    def on_epoch_end(self, trainer, metrics: dict) -> None:
        layers = {}
        for name, _ in self._named:
            layers[name] = {k: (self._sums[name][k] / self._counts[name][k] if self._counts[name][k] else None)
                            for k in self._sums[name]}
        flipped = total = 0
        for name, m in self._named:
            if name in self._signs:
                changed = int(np.count_nonzero((m.weight.array >= 0) != self._signs[name]))
                layers[name]["flip"] = changed / max(self._signs[name].size, 1)
                flipped, total = flipped + changed, total + self._signs[name].size
        if total:
            metrics["flip_ratio"] = flipped / total
        self.history.append({"epoch": metrics.get("epoch", trainer.epoch + 1), "layers": layers,
                             "types": {name: type(m).__name__ for name, m in self._named}})

    def on_train_end(self, trainer) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def state_dict(self) -> dict:
        return {"history": json.dumps(self.history)}

    def load_state_dict(self, state: dict) -> None:
        if "history" in state:
            self.history = json.loads(str(state["history"]))


def _norm(*arrays) -> float:
    """The L2 norm of several arrays taken together."""
    return float(np.sqrt(sum(float(np.vdot(a, a)) for a in arrays)))
