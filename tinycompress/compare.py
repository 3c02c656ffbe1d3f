"""The three compression families side by side: one MLP, one budget, measured in the deployed form.

``run_compare(epochs, seed, out_dir)`` trains LeNet-300-100 (784 → 300 → 100 → 10) on MNIST four ways,
every one for the same ``epochs`` over the same batches (one seed, one batch order), Adam, batch 64,
inputs normalised with the MNIST mean/std:

* ``dense``     -- the float network (``svd_mlp_dense``), lr 1e-3.
* ``binarized`` -- seed 000's recipe at these widths: BinarizedLinear(784, 300, float input) → BN →
  BinarizedLinear(300, 100) → BN → Linear(100, 10) (binary weights, binary activations after the first
  layer, last layer float), latent weights clipped to [-1, 1] (ClipWeights), lr 1e-2 as seed 000.
* ``pruned``    -- the dense network pruned by magnitude (Han et al. 2015's iterative schedule): one dense
  epoch, then ``min(3, epochs - 1)`` prune-and-retrain stages reaching ``sparsity`` of all weights (global
  magnitude ranking), retraining at 0.1× lr.
* ``pruned-obs`` (on request, ``--methods ... pruned-obs``) -- the second-order point: the dense network
  trained ``epochs - 1`` epochs, pruned one-shot to ``sparsity`` in every layer by layer-wise OBS
  (:mod:`~tinycompress.compress.obs`, 16 calibration batches; it also updates the kept weights), then
  fine-tuned one epoch at 0.1× lr.
* ``low-rank``  -- ``svd_mlp`` trained ``epochs - 1`` epochs with the orthogonality (λ_o = 0.1) and Hoyer
  (λ_s = 0.01) regularisers, truncated to ``energy`` of each layer's Σs², fine-tuned one epoch at 0.1× lr.

Each is exported with :func:`~tinycompress.compress.deploy.export` (packed bits / CSR / thin factors),
saved to ``out_dir/<method>.npz``, loaded back, and its test accuracy is measured on that loaded deployed
form; bytes and multiply-accumulates come from :func:`~tinycompress.compress.report` of it. Written:
``compare.json`` (every figure and each method's full report), ``compare.md`` (the table) and
``compare.png`` (accuracy against deployed bytes, log scale, Pareto front marked; needs matplotlib).
Everything but the timings is a function of ``seed``.
"""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

METHODS = ("dense", "binarized", "pruned", "low-rank")
#: every method compare can run: the default four and the second-order pruned point
ALL_METHODS = METHODS + ("pruned-obs",)
SCHEMA = "tinycompress.compare/1"
INPUT_SHAPE = (1, 784)
#: lr per method (Adam); the binarized one is seed 000's.
LR = {"dense": 1e-3, "binarized": 1e-2, "pruned": 1e-3, "low-rank": 1e-3, "pruned-obs": 1e-3}
DESCRIPTION = {
    "dense": "784-300-100-10, float32",
    "binarized": "binary weights and activations (seed 000), BN, float last layer",
    "pruned": "iterative magnitude pruning (Han et al.)",
    "low-rank": "SVD training + truncation + fine-tune (Yang et al.)",
    "pruned-obs": "one-shot layer-wise OBS + 1 epoch fine-tune (Hassibi & Stork; SparseGPT)",
}


def _recipe(method: str):
    from .models import Recipe
    return Recipe(optimizer="adam", lr=LR[method], batch_size=64, test_batch_size=1000, normalize="mnist",
                  input="flat", seed_doc="compare")


def binarized_mlp(sizes=(784, 300, 100, 10)):
    """Seed 000's binarized MLP at the given widths: the first layer takes float inputs, every hidden
    layer has binary weights, BatchNorm between, the binarized activations come from the next layer's
    sign, the last layer is float."""
    from . import nn
    from .compress.binary import BinarizedLinear
    layers = []
    for k, (i, o) in enumerate(zip(sizes[:-2], sizes[1:-1])):
        layers += [BinarizedLinear(i, o, binarize_input=k > 0), nn.BatchNorm1d(o)]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


# ------------------------------------------------------------------------------------------------
# the four trainings
# ------------------------------------------------------------------------------------------------
def _fit(model, recipe, loaders, epochs, callbacks, max_steps, progress, log) -> list[dict]:
    from .models import make_optimizer
    from .train import fit
    optimizer = make_optimizer(recipe, model.parameters())
    return fit(model, optimizer, loaders[0], epochs, test_loader=loaders[1], callbacks=callbacks,
               progress=progress, max_steps_per_epoch=max_steps, log=log)


def _train(method, loaders, epochs, sparsity, energy, max_steps, progress, log):
    """Build and train one method's model; returns (model, history, extra meta)."""
    from . import models
    recipe = _recipe(method)
    meta = {}
    if method == "dense":
        model = models.build("svd_mlp_dense")
        history = _fit(model, recipe, loaders, epochs, [], max_steps, progress, log)
    elif method == "binarized":
        from .compress.binary import ClipWeights
        model = binarized_mlp()
        history = _fit(model, recipe, loaders, epochs, [ClipWeights()], max_steps, progress, log)
    elif method == "pruned":
        from .compress.prune import IterativePruning, prepare_model
        model = prepare_model(models.build("svd_mlp_dense"))
        rest = epochs - 1
        stages = min(3, rest) if rest > 0 else 1
        schedule = IterativePruning(sparsity, stages=stages, epochs_per_stage=max(rest // stages, 1),
                                    start_epoch=1 if rest > 0 else 0, method="l1", scope="global", lr_factor=0.1)
        history = _fit(model, recipe, loaders, epochs, [schedule], max_steps, progress, log)
        meta["stages"] = stages
    elif method == "pruned-obs":
        from .compress.obs import obs_prune_model
        from .compress.prune import prepare_model, sparsity_table
        model = prepare_model(models.build("svd_mlp_dense"))
        history = _fit(model, recipe, loaders, max(epochs - 1, 1), [], max_steps, progress, log)
        obs_prune_model(model, sparsity, loaders[0], batches=16, log=log)
        if epochs > 1:
            finetune = dataclasses.replace(recipe, lr=0.1 * recipe.lr)
            history += _fit(model, finetune, loaders, 1, [], max_steps, progress, log)
        meta["kept"] = [r["kept_fraction"] for r in sparsity_table(model)]
    elif method == "low-rank":
        from .compress.lowrank import SVDRegularizer, format_summary, truncate
        model = models.build("svd_mlp")
        history = _fit(model, recipe, loaders, max(epochs - 1, 1), [SVDRegularizer(0.1, 0.01, "hoyer")],
                       max_steps, progress, log)
        summary = truncate(model, energy)
        log(f"truncated to {energy} of the singular-value energy:\n{format_summary(summary)}")
        finetune = dataclasses.replace(recipe, lr=0.1 * recipe.lr)
        history += _fit(model, finetune, loaders, 1, [], max_steps, progress, log)
        meta["truncation"] = summary
    else:
        raise ValueError(f"unknown method {method!r}; choose from {ALL_METHODS}")
    return model, history, meta


def _deployed_accuracy(deployed, test_loader) -> float:
    correct = total = 0
    for x, y in test_loader:
        correct += int((np.asarray(deployed(x.array)).argmax(1) == y.array).sum())
        total += len(y)
    return correct / max(total, 1)


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """For (bytes, accuracy) points: True where no other point is at most as large and at least as
    accurate, and strictly better in one of the two."""
    front = []
    for i, (b, a) in enumerate(points):
        dominated = any((b2 <= b and a2 >= a) and (b2 < b or a2 > a) for j, (b2, a2) in enumerate(points) if j != i)
        front.append(not dominated)
    return front


# ------------------------------------------------------------------------------------------------
# the comparison
# ------------------------------------------------------------------------------------------------
def run_compare(epochs: int = 3, seed: int = 0, out_dir="runs/compare", data=None, max_steps: int | None = None,
                progress: bool = True, methods=METHODS, sparsity: float = 0.9, energy: float = 0.9,
                log=print) -> dict:
    """Train, deploy and measure each of ``methods``; write compare.json/.md/.png into ``out_dir``.

    ``data``: the MNIST folder (None: ``$TINYCOMPRESS_DATA``, ``./data``, then the bundled subset; a named folder
    that lacks the files is an error, see :func:`~tinycompress.train.find_mnist`).
    ``max_steps``: at most this many batches per epoch (smoke runs). Returns the dict written to
    compare.json: ``{"schema", "config", "results": [one dict per method]}``.
    """
    import tinycompress as tc
    from .compress.deploy import export, load_deployed
    from .compress.report import report
    from .models import mnist_loaders
    from .train import evaluate, test_set_name

    if epochs < 1:
        raise ValueError(f"run_compare: epochs must be >= 1, got {epochs}")
    if not 0.9 <= sparsity < 1.0:
        raise ValueError(f"run_compare: sparsity={sparsity} must be in [0.9, 1)")
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise ValueError(f"run_compare: unknown methods {unknown}; choose from {ALL_METHODS}")
    os.makedirs(out_dir, exist_ok=True)
    loaders = mnist_loaders(_recipe("dense"), root=data)      # one pipeline; only the lr differs per method
    train_set = loaders[0].dataset
    results = []
    for method in methods:
        log(f"== {method}: {DESCRIPTION[method]}")
        tc.manual_seed(seed)                                  # same init stream and batch order for each
        model, history, meta = _train(method, loaders, epochs, sparsity, energy, max_steps, progress, log)
        model_acc = evaluate(model, loaders[1])["acc"]
        path = os.path.join(out_dir, f"{method.replace('-', '_')}.npz")
        export(model, meta={"method": method, "recipe": _recipe(method).to_dict(), **meta}).save(path)
        deployed = load_deployed(path)
        rep = report(deployed, INPUT_SHAPE)
        total = rep.total
        results.append({
            "method": method, "description": DESCRIPTION[method], "format": deployed.meta.get("format"),
            "accuracy": _deployed_accuracy(deployed, loaders[1]), "model_accuracy": model_acc,
            "bytes": deployed.nbytes, "macs_float": total["macs_float"], "macs_binary": total["macs_binary"],
            "macs_dense": total["macs_dense"], "parameters": total["parameters"], "nonzeros": total["nonzeros"],
            "bits_per_weight": total["bits_per_weight"], "ratio_vs_float32": total["ratio"],
            "epochs": len(history), "train_seconds": round(sum(h["seconds"] for h in history), 2),
            "deployed_file": os.path.basename(path), "report": rep.to_dict()})
        log(f"{method}: deployed accuracy {results[-1]['accuracy']:.4f} on {test_set_name(loaders[1])}, "
            f"{deployed.nbytes:,} bytes")
    dense_bytes = next((r["bytes"] for r in results if r["method"] == "dense"), None)
    front = pareto_front([(r["bytes"], r["accuracy"]) for r in results])
    for r, on_front in zip(results, front):
        r["ratio_vs_dense"] = None if dense_bytes is None else dense_bytes / r["bytes"]
        r["pareto"] = bool(on_front)
    result = {"schema": SCHEMA,
              "config": {"epochs": epochs, "seed": seed, "max_steps": max_steps, "sparsity": sparsity,
                         "energy": energy, "batch_size": 64, "optimizer": "adam", "lr": dict(LR),
                         "data": "bundled subset" if getattr(train_set, "is_subset", False) else "full MNIST",
                         "train_images": len(train_set), "test_images": len(loaders[1].dataset),
                         "input_shape": list(INPUT_SHAPE)},
              "results": results}
    with open(os.path.join(out_dir, "compare.json"), "w") as f:
        json.dump(result, f, indent=2)
    table = markdown_table(result)
    with open(os.path.join(out_dir, "compare.md"), "w") as f:
        f.write(table + "\n")
    log(table)
    png = plot_compare(result, os.path.join(out_dir, "compare.png"))
    if png:
        log(f"wrote {png}")
    return result


def markdown_table(result: dict) -> str:
    """The comparison as a Markdown table (accuracy measured on the deployed form)."""
    lines = ["| method | deployed form | test accuracy | deployed bytes | × smaller than dense | bits / weight "
             "| MACs / sample (float + binary) | train time (s) | Pareto |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result["results"]:
        ratio = "—" if r["ratio_vs_dense"] is None else f"{r['ratio_vs_dense']:.1f}×"
        macs = f"{r['macs_float']:,}" + (f" + {r['macs_binary']:,}" if r["macs_binary"] else "")
        lines.append(f"| {r['method']} | {r['format']} | {r['accuracy']:.4f} | {r['bytes']:,} | {ratio} "
                     f"| {r['bits_per_weight']:.2f} | {macs} | {r['train_seconds']:.1f} | "
                     f"{'✓' if r['pareto'] else ''} |")
    return "\n".join(lines)


def plot_compare(result: dict, path: str) -> str | None:
    """Accuracy against deployed bytes (log x), one labelled point per method, the Pareto front filled
    and joined by a dashed staircase (the best accuracy reachable within a byte budget); returns
    ``path``, or None (with a message) when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: compare.png not written (pip install 'tinycompress[plot]')")
        return None
    rows = result["results"]
    fig, ax = plt.subplots(figsize=(6, 4))
    front = sorted((r for r in rows if r["pareto"]), key=lambda r: r["bytes"])
    if len(front) > 1:
        ax.plot([r["bytes"] for r in front], [r["accuracy"] for r in front], "--", color="gray", zorder=1,
                drawstyle="steps-post", label="Pareto front (filled points)")
    for r in rows:
        ax.scatter(r["bytes"], r["accuracy"], s=60, zorder=2, edgecolors="black",
                   facecolors="tab:blue" if r["pareto"] else "white")
        ax.annotate(r["method"], (r["bytes"], r["accuracy"]), textcoords="offset points", xytext=(6, 4))
    ax.set_xscale("log")
    ax.margins(y=0.15)
    ax.set_xlabel("deployed bytes (log scale)")
    ax.set_ylabel("test accuracy (deployed form)")
    cfg = result["config"]
    epochs = f"{cfg['epochs']} epoch{'' if cfg['epochs'] == 1 else 's'}"
    ax.set_title(f"LeNet-300-100 on {cfg['data']}, {epochs} per method, seed {cfg['seed']}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    lo, hi = min(r["bytes"] for r in rows), max(r["bytes"] for r in rows)
    ax.set_xlim(lo / 2, hi * 3)
    if len(front) > 1:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------------------------
# curves: each family swept over its knob
# ------------------------------------------------------------------------------------------------
#: each family's knob and the values swept (``quick``: a small sweep). Binarized: how many of the two hidden
#: layers are binary; pruned: sparsity; low-rank: kept energy; quantized: PTQ of the dense run (no training
#: of its own) or QAT from scratch, at 8/4/2 bits (weights and inputs).
SWEEPS = {"dense": [None], "binarized": [1, 2], "pruned": [0.8, 0.9, 0.95, 0.98], "low-rank": [0.8, 0.9, 0.95, 0.99],
          "quantized": [("ptq", 8), ("ptq", 4), ("qat", 8), ("qat", 4), ("qat", 2)]}
QUICK_SWEEPS = {"dense": [None], "binarized": [2], "pruned": [0.9, 0.98], "low-rank": [0.8, 0.95],
                "quantized": [("ptq", 8), ("qat", 4)]}
CURVES_SCHEMA = "tinycompress.curves/1"


def _knob_label(family: str, knob) -> str:
    if family == "binarized":
        return f"{knob} binary layer{'s' if knob > 1 else ''}"
    if family == "pruned":
        return f"{knob:.0%} sparse"
    if family == "low-rank":
        return f"energy {knob}"
    if family == "quantized":
        return f"{knob[0].upper()} {knob[1]}-bit"
    return "float32"


def _binarized_mlp_first(sizes=(784, 300, 100, 10)):
    """One binary layer: the first (binary weights, float input), BN, ReLU, then float layers."""
    from . import nn
    from .compress.binary import BinarizedLinear
    return nn.Sequential(BinarizedLinear(sizes[0], sizes[1], binarize_input=False), nn.BatchNorm1d(sizes[1]), nn.ReLU(),
                         nn.Linear(sizes[1], sizes[2]), nn.ReLU(), nn.Linear(sizes[2], sizes[3]))


def _sweep_point(family, knob, loaders, epochs, max_steps, progress, log, dense_model):
    """(model, history, meta) of one point of a family's curve."""
    from . import models
    if family == "binarized":
        from .compress.binary import ClipWeights
        model = binarized_mlp() if knob == 2 else _binarized_mlp_first()
        return model, _fit(model, _recipe("binarized"), loaders, epochs, [ClipWeights()], max_steps, progress, log), {}
    if family == "quantized":
        from .compress.quant import calibrate, quantize_model
        mode, bits = knob
        if mode == "ptq":                                        # the dense run, quantized and calibrated
            model = models.build("svd_mlp_dense")
            model.load_state_dict(dense_model.state_dict())
            model = quantize_model(model, bits)
            calibrate(model, loaders[0], max_batches=16)
            return model, [], {"calibration_batches": 16}
        model = quantize_model(models.build("svd_mlp_dense"), bits)
        return model, _fit(model, _recipe("dense"), loaders, epochs, [], max_steps, progress, log), {}
    if family == "pruned":
        return _train("pruned", loaders, epochs, knob, 0.9, max_steps, progress, log)
    if family == "low-rank":
        return _train("low-rank", loaders, epochs, 0.9, knob, max_steps, progress, log)
    return _train("dense", loaders, epochs, 0.9, 0.9, max_steps, progress, log)


def run_curves(epochs: int = 3, seed: int = 0, out_dir="runs/curves", data=None, max_steps: int | None = None,
               progress: bool = True, quick: bool = False, families=None, log=print) -> dict:
    """Each family swept over its knob (:data:`SWEEPS`, or :data:`QUICK_SWEEPS` with ``quick``), every point trained
    as :func:`run_compare` trains its method (same budget, seed, batches; QAT as the dense recipe), exported, saved,
    loaded back and measured on that deployed file. Writes ``curves.json``, ``curves.md`` and ``curves.png``
    (accuracy against deployed bytes, one curve per family, the Pareto front over all points marked) into
    ``out_dir``; returns the dict written to curves.json. Everything but the timings is a function of ``seed``."""
    import tinycompress as tc
    from .compress.deploy import export, load_deployed
    from .compress.report import report
    from .models import mnist_loaders
    from .train import test_set_name

    if epochs < 1:
        raise ValueError(f"run_curves: epochs must be >= 1, got {epochs}")
    sweeps = QUICK_SWEEPS if quick else SWEEPS
    families = list(families or sweeps)
    unknown = [f for f in families if f not in sweeps]
    if unknown:
        raise ValueError(f"run_curves: unknown families {unknown}; choose from {list(sweeps)}")
    os.makedirs(out_dir, exist_ok=True)
    loaders = mnist_loaders(_recipe("dense"), root=data)
    train_set = loaders[0].dataset
    points, dense_model = [], None
    order = (["dense"] if "dense" in families or "quantized" in families else []) + [f for f in families if f != "dense"]
    for family in order:
        for knob in sweeps[family]:
            label = _knob_label(family, knob)
            log(f"== {family}: {label}")
            tc.manual_seed(seed)
            model, history, meta = _sweep_point(family, knob, loaders, epochs, max_steps, progress, log, dense_model)
            if family == "dense":
                dense_model = model
                if "dense" not in families:
                    continue
            name = f"{family}_{label}".replace(" ", "_").replace("%", "pct").replace("-", "_")
            path = os.path.join(out_dir, f"{name}.npz")
            export(model, meta={"family": family, "knob": label, **meta}).save(path)
            deployed = load_deployed(path)
            total = report(deployed, INPUT_SHAPE).total
            points.append({"family": family, "knob": label, "format": deployed.format,
                           "accuracy": _deployed_accuracy(deployed, loaders[1]), "bytes": deployed.nbytes,
                           "bits_per_weight": total["bits_per_weight"], "macs_float": total["macs_float"],
                           "macs_binary": total["macs_binary"], "epochs": len(history),
                           "train_seconds": round(sum(h["seconds"] for h in history), 2),
                           "deployed_file": os.path.basename(path)})
            log(f"{family} {label}: deployed accuracy {points[-1]['accuracy']:.4f} on {test_set_name(loaders[1])}, "
                f"{deployed.nbytes:,} bytes")
    for p, on_front in zip(points, pareto_front([(p["bytes"], p["accuracy"]) for p in points])):
        p["pareto"] = bool(on_front)
    result = {"schema": CURVES_SCHEMA,
              "config": {"epochs": epochs, "seed": seed, "max_steps": max_steps, "quick": quick,
                         "sweeps": {f: [_knob_label(f, k) for k in sweeps[f]] for f in families},
                         "data": "bundled subset" if getattr(train_set, "is_subset", False) else "full MNIST",
                         "train_images": len(train_set), "test_images": len(loaders[1].dataset)},
              "points": points}
    with open(os.path.join(out_dir, "curves.json"), "w") as f:
        json.dump(result, f, indent=2)
    lines = ["| family | knob | deployed form | test accuracy | deployed bytes | bits / weight | Pareto |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {p['family']} | {p['knob']} | {p['format']} | {p['accuracy']:.4f} | {p['bytes']:,} | "
              f"{p['bits_per_weight']:.2f} | {'✓' if p['pareto'] else ''} |" for p in points]
    with open(os.path.join(out_dir, "curves.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    log("\n".join(lines))
    png = plot_curves(result, os.path.join(out_dir, "curves.png"))
    if png:
        log(f"wrote {png}")
    return result


def plot_curves(result: dict, path: str) -> str | None:
    """Accuracy against deployed bytes (log x): one line per family through its points (ordered by bytes), the
    Pareto front over all points as a dashed staircase with its points ringed; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: curves.png not written (pip install 'tinycompress[plot]')")
        return None
    points = result["points"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for family in dict.fromkeys(p["family"] for p in points):
        mine = sorted((p for p in points if p["family"] == family), key=lambda p: p["bytes"])
        ax.plot([p["bytes"] for p in mine], [p["accuracy"] for p in mine], "o-", label=family, zorder=2)
        for p in mine:
            ax.annotate(p["knob"], (p["bytes"], p["accuracy"]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    front = sorted((p for p in points if p["pareto"]), key=lambda p: p["bytes"])
    if front:
        ax.plot([p["bytes"] for p in front], [p["accuracy"] for p in front], "--", color="gray", drawstyle="steps-post",
                zorder=1, label="Pareto front")
        ax.scatter([p["bytes"] for p in front], [p["accuracy"] for p in front], s=150, facecolors="none",
                   edgecolors="black", zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel("deployed bytes (log scale)")
    ax.set_ylabel("test accuracy (deployed form)")
    cfg = result["config"]
    ax.set_title(f"LeNet-300-100 on {cfg['data']}, {cfg['epochs']} epoch(s) per point, seed {cfg['seed']}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
