"""``fit`` and ``evaluate``: the training loop every example and the CLI share.

One epoch is: for each batch, loss = task loss + Σ callback.extra_loss, ``zero_grad``,
``backward``, ``optimizer.step()``, callbacks' ``on_step_end``; then evaluation on the test
loader, ``scheduler.step()`` (schedules are per epoch, as in the seeds), metrics and callbacks'
``on_epoch_end``. Checkpoints hold model, optimizer, scheduler, callback and RNG state, so a
resumed run continues exactly where it stopped.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from . import random as _random
from .autograd import no_grad
from .callbacks import Callback
from .serialization import load, save


def _cross_entropy(output, target):
    from .nn import functional as F
    return F.cross_entropy(output, target)


def _progress(iterable, total, desc, enabled):
    """A tqdm bar when tqdm is installed and wanted; otherwise the iterable itself."""
    if not enabled:
        return None, iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None, iterable
    bar = tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True, file=sys.stderr)
    return bar, bar


@no_grad()
def evaluate(model, loader, loss_fn=None) -> dict:
    """Mean loss and accuracy of ``model`` over ``loader``, in eval mode, recording no graph."""
    loss_fn = loss_fn or _cross_entropy
    was_training = model.training
    model.eval()
    total, loss_sum, correct = 0, 0.0, 0
    for x, y in loader:
        out = model(x)
        n = len(y)
        loss_sum += float(loss_fn(out, y).item()) * n
        if out.ndim == 2 and y.ndim == 1:
            correct += int((out.array.argmax(1) == y.array).sum())
        total += n
    model.train(was_training)
    return {"loss": loss_sum / max(total, 1), "acc": correct / max(total, 1)}


class Trainer:
    """Holds what ``fit`` needs and what callbacks may read: model, optimizer, scheduler, epoch ..."""

    def __init__(self, model, optimizer, train_loader, *, epochs=1, loss_fn=None, scheduler=None,
                 test_loader=None, callbacks=(), progress=True, log=None, max_steps_per_epoch=None):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.train_loader, self.test_loader = train_loader, test_loader
        self.loss_fn = loss_fn or _cross_entropy
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be tinycompress.callbacks.Callback instances, got "
                                f"{type(cb).__name__}")
        self.epochs = int(epochs)
        self.epoch = 0
        self.global_step = 0
        self.max_steps_per_epoch = max_steps_per_epoch
        self.steps_per_epoch = min(len(train_loader), max_steps_per_epoch or len(train_loader))
        self.history: list[dict] = []
        self.progress = progress
        self._log = log or (lambda message: print(message, flush=True))
        self.stop_training = False

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def log(self, message: str) -> None:
        self._log(message)

    def _call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def train_epoch(self) -> dict:
        model, optimizer = self.model, self.optimizer
        model.train()
        seen, loss_sum, correct = 0, 0.0, 0
        bar, batches = _progress(self.train_loader, self.steps_per_epoch,
                                 f"epoch {self.epoch + 1}/{self.epochs}", self.progress)
        for step, (x, y) in enumerate(batches):
            if step >= self.steps_per_epoch:
                break
            out = model(x)
            task_loss = self.loss_fn(out, y)
            loss = task_loss
            for cb in self.callbacks:
                extra = cb.extra_loss(self)
                if extra is not None:
                    loss = loss + extra
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            self.global_step += 1
            self._call("on_step_end")
            n = len(y)
            seen += n
            loss_sum += float(task_loss.array) * n
            if out.ndim == 2 and y.ndim == 1:
                correct += int((out.array.argmax(1) == y.array).sum())
            if bar is not None and step % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}", refresh=False)
        if bar is not None:
            bar.close()
        return {"train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1)}

    def fit(self, start_epoch: int = 0) -> list[dict]:
        """Train from ``start_epoch`` to ``epochs``; returns one metrics dict per epoch."""
        self.epoch = start_epoch
        self._call("on_train_begin")
        for epoch in range(start_epoch, self.epochs):
            self.epoch = epoch
            self._call("on_epoch_begin")
            lr = self.lr
            started = time.perf_counter()
            metrics = {"epoch": epoch + 1, **self.train_epoch()}
            train_seconds = time.perf_counter() - started
            if self.test_loader is not None:
                result = evaluate(self.model, self.test_loader, self.loss_fn)
                metrics.update(test_loss=result["loss"], test_acc=result["acc"])
            metrics.update(lr=lr, seconds=round(train_seconds, 3))
            if self.scheduler is not None:
                self.scheduler.step()
            self._call("on_epoch_end", metrics)
            self.history.append(metrics)
            shown = "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
            self.log(shown)
            if self.stop_training:
                break
        self._call("on_train_end")
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "callbacks": [cb.state_dict() for cb in self.callbacks],
            "rng": json.dumps(_random.get_rng_state()),
            "epoch": self.epoch + 1,
            "global_step": self.global_step,
            "history": self.history,
        }

    def load_state_dict(self, state: dict) -> int:
        """Restore a :meth:`state_dict`; returns the epoch to continue from."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        for cb, cb_state in zip(self.callbacks, state.get("callbacks", [])):
            cb.load_state_dict(cb_state)
        _random.set_rng_state(json.loads(state["rng"]))
        self.global_step = int(state.get("global_step", 0))
        self.history = list(state.get("history", []))
        return int(state["epoch"])


class MetricsLogger(Callback):
    """Appends one JSON object per epoch to ``path`` (``metrics.jsonl``)."""

    def __init__(self, path) -> None:
        self.path = os.fspath(path)

    def on_epoch_end(self, trainer, metrics) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps({k: (float(v) if isinstance(v, np.floating) else v)
                                for k, v in metrics.items()}) + "\n")


class Checkpoint(Callback):
    """Saves the trainer's whole state to ``path`` after every epoch (temp file, then rename).

    ``extra`` (a dict of JSON-able values) is stored beside it, e.g. the CLI's configuration.
    """

    def __init__(self, path, extra: dict | None = None) -> None:
        self.path = os.fspath(path)
        self.extra = extra or {}

    def on_epoch_end(self, trainer, metrics) -> None:
        state = trainer.state_dict()
        state["history"] = trainer.history + [metrics]
        state.update(self.extra)
        save(state, self.path)


def fit(model, optimizer, train_loader, epochs=1, *, loss_fn=None, scheduler=None, test_loader=None,
        callbacks=(), progress=True, log=None, max_steps_per_epoch=None) -> list[dict]:
    """Train ``model`` for ``epochs`` epochs; returns per-epoch metrics (see :class:`Trainer`)."""
    trainer = Trainer(model, optimizer, train_loader, epochs=epochs, loss_fn=loss_fn, scheduler=scheduler,
                      test_loader=test_loader, callbacks=callbacks, progress=progress, log=log,
                      max_steps_per_epoch=max_steps_per_epoch)
    return trainer.fit()


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by :class:`Checkpoint`."""
    state = load(path)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path} is not a tinycompress training checkpoint (no 'model' entry)")
    return state


def load_model_state(model, state_dict) -> None:
    """``load_state_dict`` into a freshly built model, first giving it the structure the checkpoint has:
    pruning re-parametrisation (``weight_orig``/``weight_mask``) and truncated low-rank ranks."""
    from .compress.lowrank import match_ranks
    from .compress.prune import restore_pruning
    restore_pruning(model, state_dict)
    match_ranks(model, state_dict)
    model.load_state_dict(state_dict)


# recipe glue (optimizer, scheduler, MNIST loaders from a Recipe) lives next to the recipes, in models/;
# re-exported here for the examples and scripts that import it from train
from .models.recipes import make_optimizer, make_scheduler, mnist_loaders, mnist_transform  # noqa: E402,F401
