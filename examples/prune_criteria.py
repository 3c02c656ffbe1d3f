"""One dense network, every pruning criterion, measured on the deployed CSR file.

    tinycompress train --model lenet300_100 --out runs/lenet300_dense --data $MNIST     # the dense net
    python examples/prune_criteria.py --checkpoint runs/lenet300_dense/last.npz --data $MNIST
    python examples/prune_criteria.py --checkpoint runs/lenet300_dense/last.npz --data $MNIST \\
        --criteria obs l1 --sparsities 0.98 --retrain-epochs 10

For each criterion and sparsity: load the dense checkpoint, prune one-shot to the sparsity (Han et
al.'s per-layer kept ratios scaled to it, ``--rates han``; or the same in every layer), export to CSR,
save, load the file back and measure its test accuracy (one-shot, no retraining); then, with
``--retrain-epochs N``, retrain the pruned net N epochs at 0.1× the recipe's lr (masks fixed) and
measure the deployed file again. Criteria: l1 (|w|), taylor (mean |w·g| over the calibration batches),
snip (|w·ḡ|, here on the trained net), obd (½ H_ii w², Hutchinson), movement (−Σ w·g over
``--movement-steps`` steps of fine-tuning at 0.1× lr, which also move the weights), obs (layer-wise OBS:
updates the kept weights). Writes ``--out`` (JSON) and prints a Markdown table.
"""
import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy as np

import tinycompress as tc
from tinycompress import models
from tinycompress.cli import model_from_checkpoint
from tinycompress.compress import criteria, prune
from tinycompress.compress.deploy import export, load_deployed
from tinycompress.models import make_optimizer, mnist_loaders
from tinycompress.train import evaluate, fit

#: Han et al. 2015's kept fractions per layer at their operating point (LeNet-300-100 at 8%, LeNet-5 at 8%)
HAN_KEPT = {"lenet300_100": {"fc1": 0.08, "fc2": 0.09, "fc3": 0.26},
            "lenet5": {"conv1": 0.66, "conv2": 0.12, "fc1": 0.08, "fc2": 0.19}}


def layer_targets(model, name, sparsity, rates):
    """Per-layer sparsities: Han et al.'s kept ratios scaled so the total kept fraction is 1 − sparsity."""
    sizes = {n: int(np.prod(m.weight.shape)) for n, m in prune.prunable_layers(model)}
    if rates != "han" or name not in HAN_KEPT:
        return {n: sparsity for n in sizes}
    han = HAN_KEPT[name]
    scale = (1 - sparsity) * sum(sizes.values()) / sum(han[n] * sizes[n] for n in sizes)
    return {n: 1 - min(1.0, han[n] * scale) for n in sizes}


def deployed_accuracy(model, test_loader, meta) -> tuple[float, int]:
    """Export to CSR, save, load the file back, measure it: (accuracy, bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "deployed.npz")
        export(model, format="sparse", meta=meta).save(path)
        deployed = load_deployed(path)
        correct = total = 0
        for x, y in test_loader:
            correct += int((np.asarray(deployed(x.array)).argmax(1) == y.array).sum())
            total += len(y)
        return correct / total, deployed.nbytes


def prune_once(model, method, targets, train_loader, recipe, calib_batches, movement_steps, obs_rounds=6):
    """Prune ``model`` one-shot to the per-layer ``targets`` by ``method``."""
    if method == "movement":
        opt = make_optimizer(dataclasses.replace(recipe, lr=0.1 * recipe.lr), model.parameters())
        scores = criteria.movement(model, _cycle(train_loader), opt, batches=movement_steps)
        prune.prune_to_sparsity(model, targets, "l1", importance_scores=scores)
        return
    extra = {"rounds": obs_rounds} if method == "obs" else {}
    prune.prune_model(model, targets, method, loader=train_loader, batches=calib_batches, **extra)


def _cycle(loader):
    while True:
        yield from loader


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="a dense run's last.npz (tinycompress train); without it the "
                    "dense --model is trained here first (--dense-epochs)")
    ap.add_argument("--model", default="lenet300_100", choices=["lenet300_100", "lenet5"])
    ap.add_argument("--dense-epochs", type=int, default=None, help="without --checkpoint (default: the recipe's)")
    ap.add_argument("--max-steps", type=int, default=None, help="batches per epoch (smoke runs)")
    ap.add_argument("--data", default=None)
    ap.add_argument("--criteria", nargs="+", default=["l1", "taylor", "snip", "obd", "movement", "obs"],
                    choices=["l1", "taylor", "snip", "obd", "movement", "obs"])
    ap.add_argument("--sparsities", nargs="+", type=float, default=[0.9, 0.95, 0.98])
    ap.add_argument("--rates", choices=["han", "uniform"], default="han")
    ap.add_argument("--calib-batches", type=int, default=64)
    ap.add_argument("--movement-steps", type=int, default=200)
    ap.add_argument("--obs-rounds", type=int, default=6, help="layer-wise OBS rounds (each re-measures H)")
    ap.add_argument("--retrain-epochs", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="JSON file for the results")
    args = ap.parse_args(argv)

    if args.checkpoint:
        dense, config, _ = model_from_checkpoint(args.checkpoint)
        name, recipe = config["model"], models.Recipe(**config["recipe"])
        train_loader, test_loader = mnist_loaders(recipe, root=args.data)
    else:
        tc.manual_seed(args.seed)
        name, recipe = args.model, models.recipe(args.model)
        dense = models.build(name)
        train_loader, test_loader = mnist_loaders(recipe, root=args.data)
        fit(dense, make_optimizer(recipe, dense.parameters()), train_loader, args.dense_epochs or recipe.epochs,
            progress=False, max_steps_per_epoch=args.max_steps, log=lambda m: None)

    def fresh():
        model = models.build(name)
        prune.restore_pruning(model, dense.state_dict())
        model.load_state_dict(dense.state_dict())
        return model
    dense_acc, dense_bytes = deployed_accuracy(dense, test_loader, {"model": name})
    print(f"{name} dense: deployed accuracy {dense_acc:.4f} ({dense_bytes:,} bytes)", flush=True)
    rows = []
    for method in args.criteria:
        for s in args.sparsities:
            tc.manual_seed(args.seed)
            model = fresh()
            targets = layer_targets(model, name, s, args.rates)
            started = time.perf_counter()
            prune_once(model, method, targets, train_loader, recipe, args.calib_batches, args.movement_steps,
                       args.obs_rounds)
            seconds = time.perf_counter() - started
            table = prune.sparsity_table(model)
            kept = sum(r["kept"] for r in table) / sum(r["weights"] for r in table)
            acc, nbytes = deployed_accuracy(model, test_loader, {"model": name})
            row = {"model": name, "criterion": method, "sparsity": s, "kept": kept, "oneshot_acc": acc,
                   "bytes": nbytes, "prune_seconds": round(seconds, 1), "dense_acc": dense_acc}
            if args.retrain_epochs:
                opt = make_optimizer(dataclasses.replace(recipe, lr=0.1 * recipe.lr), model.parameters())
                fit(model, opt, train_loader, args.retrain_epochs, test_loader=None, progress=False,
                    max_steps_per_epoch=args.max_steps, log=lambda m: None)
                row["retrained_acc"], row["bytes"] = deployed_accuracy(model, test_loader, {"model": name})
                row["retrain_epochs"] = args.retrain_epochs
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n| criterion | kept | one-shot error | after {args.retrain_epochs} epochs | CSR bytes |\n|---|---|---|---|---|")
    for r in rows:
        after = f"{100 * (1 - r['retrained_acc']):.2f}%" if "retrained_acc" in r else "—"
        print(f"| {r['criterion']} | {100 * r['kept']:.2f}% | {100 * (1 - r['oneshot_acc']):.2f}% | {after} | "
              f"{r['bytes']:,} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"dense_acc": dense_acc, "dense_bytes": dense_bytes, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
