"""Plots people would rather look at than read; matplotlib is optional (``pip install tinycompress[plot]``)."""
from __future__ import annotations

import os


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        print("matplotlib is not installed: no plot written (pip install 'tinycompress[plot]')")
        return None


def plot_curves(history: list[dict], path: str, title: str = "") -> str | None:
    """Loss and accuracy per epoch, train and test, side by side; returns the path written."""
    plt = _pyplot()
    if plt is None or not history:
        return None
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax, label in (("train_loss", ax_loss, "train"), ("test_loss", ax_loss, "test"),
                           ("train_acc", ax_acc, "train"), ("test_acc", ax_acc, "test")):
        if key in history[0]:
            ax.plot(epochs, [h[key] for h in history], marker="o", label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for before, after in zip(history, history[1:]):          # a phase change (training -> fine-tuning)
        if before.get("phase") != after.get("phase"):
            for ax in (ax_loss, ax_acc):
                ax.axvline((before["epoch"] + after["epoch"]) / 2, color="gray", linestyle="--", linewidth=1,
                           label=f"{after.get('phase')} starts")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
