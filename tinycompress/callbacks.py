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
