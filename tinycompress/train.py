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
import signal
import sys
import time

import numpy as np

from . import random as _random
from .autograd import no_grad
from .callbacks import Callback
from .serialization import _save, load

#: a test hook: ``step:N`` SIGKILLs the process right after global step N, ``checkpoint:N`` during the
#: N-th checkpoint write (the temporary file written, not yet renamed), ``after-checkpoint:N`` between
#: the N-th checkpoint and its metrics row. The fault tests use it to check that nothing is lost.
KILL_ENV = "TINYCOMPRESS_TEST_KILL"


def _test_kill(point: str, count: int) -> None:
    if os.environ.get(KILL_ENV) == f"{point}:{count}":
        os.kill(os.getpid(), signal.SIGKILL)


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss (or weights); raised before the bad step is applied."""


def _cross_entropy(output, target):
    from .nn import functional as F
    return F.cross_entropy(output, target)


def _has_tqdm() -> bool:
    try:
        import tqdm.auto  # noqa: F401
    except ImportError:
        return False
    return True


def _progress(iterable, total, desc, enabled):
    """A tqdm bar when tqdm is installed and wanted; otherwise the iterable itself."""
    if not enabled or not _has_tqdm():
        return None, iterable
    from tqdm.auto import tqdm
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
        self.step_lines = progress and not _has_tqdm()     # no bar to show: a line every tenth of an epoch
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
            if not np.isfinite(loss.array).all():           # before the update: the weights stay finite
                raise NonFiniteLossError(
                    f"the loss is {float(loss.array)} at epoch {self.epoch + 1}, step {step + 1} (global step "
                    f"{self.global_step + 1}); training stopped before applying that step")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            self.global_step += 1
            _test_kill("step", self.global_step)
            self._call("on_step_end")
            n = len(y)
            seen += n
            loss_sum += float(task_loss.array) * n
            if out.ndim == 2 and y.ndim == 1:
                correct += int((out.array.argmax(1) == y.array).sum())
            if bar is not None and step % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}", refresh=False)
            every = max(1, self.steps_per_epoch // 10)
            if self.step_lines and (step + 1) % every == 0 and step + 1 < self.steps_per_epoch:
                self.log(f"  epoch {self.epoch + 1}/{self.epochs}  step {step + 1}/{self.steps_per_epoch}  "
                         f"loss {loss_sum / seen:.4f}  acc {correct / seen:.4f}")
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
            self._check_finite_weights()
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

    def _check_finite_weights(self) -> None:
        """The last step of an epoch can overflow the weights with a finite loss: never checkpoint those."""
        named = list(self.model.named_parameters()) + list(self.model.named_buffers())
        for name, t in named:
            a = t.array
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise NonFiniteLossError(f"{name} holds NaN or inf after epoch {self.epoch + 1} (global step "
                                         f"{self.global_step}); training stopped before the epoch was saved")

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


def _json_row(metrics: dict) -> str:
    return json.dumps({k: (float(v) if isinstance(v, np.floating) else v) for k, v in metrics.items()})


class MetricsLogger(Callback):
    """Appends one JSON object per epoch to ``path`` (``metrics.jsonl``).

    Put it after :class:`Checkpoint` in the callbacks: a row then never names an epoch whose
    checkpoint did not land, and :meth:`rewrite` (from the checkpoint's history, on resume) mends
    a file a kill left one row short or with a half-written line.
    """

    def __init__(self, path) -> None:
        self.path = os.fspath(path)

    def on_epoch_end(self, trainer, metrics) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "a") as f:
            f.write(_json_row(metrics) + "\n")

    def rewrite(self, history: list[dict]) -> None:
        """Replace the file by ``history``, one row per epoch (written beside it, then renamed)."""
        folder, base = os.path.split(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{base}.{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            f.writelines(_json_row(row) + "\n" for row in history)
        os.replace(tmp, self.path)


class Checkpoint(Callback):
    """Saves the trainer's whole state to ``path`` after every epoch (temp file, then rename).

    ``extra`` (a dict of JSON-able values) is stored beside it, e.g. the CLI's configuration.
    """

    def __init__(self, path, extra: dict | None = None) -> None:
        self.path = os.fspath(path)
        self.extra = extra or {}
        self.writes = 0
        self.saved_epoch = None          # the global epoch number of the last checkpoint written

    def on_epoch_end(self, trainer, metrics) -> None:
        state = trainer.state_dict()
        state["history"] = trainer.history + [metrics]
        state.update(self.extra)
        self.writes += 1
        _save(state, self.path, before_rename=lambda tmp: _test_kill("checkpoint", self.writes))
        self.saved_epoch = metrics.get("epoch")
        _test_kill("after-checkpoint", self.writes)


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
    pruning re-parametrisation (``weight_orig``/``weight_mask``), truncated low-rank ranks and the per-channel
    observers' sizes of quantized layers."""
    from .compress.lowrank import match_ranks
    from .compress.prune import restore_pruning
    from .compress.quant import match_quant_buffers
    restore_pruning(model, state_dict)
    match_ranks(model, state_dict)
    match_quant_buffers(model, state_dict)
    model.load_state_dict(state_dict)


def _complete_folder(base):
    """(the folder under ``base`` holding all four MNIST files, None) or (None, the files missing from
    the most complete candidate and that candidate); the layouts :class:`~tinycompress.data.MNIST` knows."""
    from pathlib import Path

    from .data import MNIST
    from .data.datasets import _locate
    best = None
    for folder in [Path(base)] + [Path(base) / sub for sub in MNIST.folders]:
        missing = [n for n in MNIST.resources if _locate(folder, n) is None]
        if not missing:
            return folder, None, None
        if best is None or len(missing) < len(best[0]):
            best = (missing, folder)
    return None, best[0], best[1]


def find_mnist(root=None):
    """Where MNIST is read from: ``(folder, is_subset)``; both splits always come from that one folder.

    A folder the user named (``root``, else ``$TINYCOMPRESS_DATA``) must hold all four files: if it
    does not exist, is a file, or lacks a file, a ``FileNotFoundError`` / ``NotADirectoryError`` names
    it and the missing file; nothing named falls back silently. When nothing is named, ``./data`` is
    used if complete, else the subset bundled with the package (``is_subset`` True).
    """
    from pathlib import Path

    from .data.datasets import BUNDLED_DIR, ENV_VAR
    env = os.environ.get(ENV_VAR)
    if root is not None or env:
        given, origin = (root, "--data") if root is not None else (env, f"${ENV_VAR}")
        base = Path(os.path.expanduser(os.fspath(given)))
        if not base.exists():
            raise FileNotFoundError(f"{origin} {given}: no such folder; name the folder holding the four MNIST "
                                    "files (train-images-idx3-ubyte[.gz] ...)")
        if not base.is_dir():
            raise NotADirectoryError(f"{origin} {given} is a file; name the folder holding the four MNIST files")
        folder, missing, where = _complete_folder(base)
        if folder is None:
            raise FileNotFoundError(f"{origin} {given}: {where / missing[0]}[.gz] is missing"
                                    + (f" (and {len(missing) - 1} more of the four MNIST files)" if len(missing) > 1
                                       else "") + "; put the four files there or name another folder")
        return folder, folder.resolve() == BUNDLED_DIR
    folder, _, _ = _complete_folder("data")
    if folder is not None:
        return folder, False
    return BUNDLED_DIR, True


def test_set_name(loader) -> str:
    """'full MNIST (10,000 test images)' or 'the bundled subset (2,000 test images)': what a result measured."""
    dataset = loader.dataset
    n = f"{len(dataset):,} test images"
    return f"the bundled subset ({n})" if getattr(dataset, "is_subset", False) else f"full MNIST ({n})"


# recipe glue (optimizer, scheduler, MNIST transform and loaders from a Recipe) lives next to the recipes,
# in models/recipes.py; re-exported here for the examples and scripts that import it from train
from .models.recipes import make_optimizer, make_scheduler, mnist_loaders, mnist_transform  # noqa: E402,F401
