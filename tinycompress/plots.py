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


def plot_curves(history: list[dict], path: str, title: str = "", grad_flow: list[dict] | None = None) -> str | None:
    """Loss and accuracy per epoch, train and test, side by side; returns the path written.

    With ``grad_flow`` (the rows of :class:`~tinycompress.callbacks.GradientFlow`), two more panels: each
    layer's weight-gradient norm (log scale: vanishing or exploding at a glance), and each layer's share of
    latent weights that flipped sign (binarized layers) or else its relative update |ΔW| / |W|."""
    plt = _pyplot()
    if plt is None or not history:
        return None
    epochs = [h["epoch"] for h in history]
    if grad_flow:
        fig, (ax_loss, ax_acc, ax_grad, ax_flow) = plt.subplots(1, 4, figsize=(20, 4))
        _plot_grad_flow(grad_flow, ax_grad, ax_flow)
    else:
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


def _plot_grad_flow(rows: list[dict], ax_grad, ax_flow) -> None:
    epochs = [r["epoch"] for r in rows]
    names = list(rows[-1]["layers"])
    flips = any(r["layers"].get(n, {}).get("flip") is not None for r in rows for n in names)

    def series(name, key):
        return [r["layers"].get(name, {}).get(key) for r in rows]
    types = rows[-1].get("types", {})
    for name in names:
        label = f"{name} {types[name]}" if name in types else name
        ax_grad.plot(epochs, series(name, "grad"), marker="o", label=label)
        if flips:
            if any(v is not None for v in series(name, "flip")):
                ax_flow.plot(epochs, series(name, "flip"), marker="o", label=label)
        else:
            ratio = [u / w if u is not None and w else None for u, w in zip(series(name, "update"), series(name, "weight"))]
            ax_flow.plot(epochs, ratio, marker="o", label=label)
    ax_grad.set(xlabel="epoch", ylabel="|dL/dW| (mean over steps)", title="gradient norm per layer", yscale="log")
    if flips:
        ax_flow.set(xlabel="epoch", ylabel="share of latent weights", title="sign flips per epoch")
    else:
        ax_flow.set(xlabel="epoch", ylabel="|ΔW| / |W| per step", title="relative update per layer", yscale="log")
    for ax in (ax_grad, ax_flow):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
