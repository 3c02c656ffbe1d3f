"""``tinycompress train | eval | export | report | compare``: the command line.

    tinycompress train                               # seed 000's binarized MLP on MNIST
    tinycompress train --model bn_mlp --epochs 3     # any registered model, its seed's recipe
    tinycompress train --model conv_bn_net --epochs 2 --out runs/conv --plot
    tinycompress train --out runs/conv --resume      # continue a stopped run exactly
    tinycompress eval --checkpoint runs/conv/last.npz
    tinycompress export --checkpoint runs/conv/last.npz --out deployed.npz && tinycompress report --packed deployed.npz
    tinycompress compare --epochs 3                  # the three families side by side

Every default comes from the model's recipe (``tinycompress.models.recipe(name)``); flags
override it. Runs write ``OUT/metrics.jsonl`` (one JSON object per epoch), ``OUT/last.npz``
(the whole training state) and, with ``--plot``, ``OUT/curves.png``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from . import models
from .train import load_model_state

DEFAULT_MODEL = "bnn_mlp"          # seed 000's binarized MLP


def _scheduler_spec(text: str) -> dict | None:
    """'none' | 'step:STEP[:GAMMA]' | 'multistep:M1,M2[:GAMMA]' | 'exponential:GAMMA' | 'cosine:T_MAX[:ETA_MIN]'."""
    parts = text.split(":")
    name = parts[0].lower()
    if name == "recipe":                       # the default: the model recipe's own scheduler
        return "recipe"
    try:
        if name == "none":
            return None
        if name == "step":
            return {"name": "step", "step_size": int(parts[1]), "gamma": float(parts[2]) if len(parts) > 2 else 0.1}
        if name == "multistep":
            return {"name": "multistep", "milestones": [int(m) for m in parts[1].split(",")],
                    "gamma": float(parts[2]) if len(parts) > 2 else 0.1}
        if name == "exponential":
            return {"name": "exponential", "gamma": float(parts[1])}
        if name == "cosine":
            return {"name": "cosine", "T_max": int(parts[1]), "eta_min": float(parts[2]) if len(parts) > 2 else 0.0}
    except (IndexError, ValueError):
        pass
    raise argparse.ArgumentTypeError(
        f"bad --scheduler {text!r}: use none, step:STEP[:GAMMA], multistep:M1,M2[:GAMMA], exponential:GAMMA "
        "or cosine:T_MAX[:ETA_MIN]")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinycompress", description="Train, evaluate and compress networks "
                                     "with a NumPy autograd engine.")
    sub = parser.add_subparsers(dest="command")

    train = sub.add_parser("train", help="train a registered model on MNIST")
    train.add_argument("--model", default=None, help=f"one of: {', '.join(models.names())} (default: "
                       f"{DEFAULT_MODEL})")
    train.add_argument("--epochs", type=int, default=None)
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--test-batch-size", type=int, default=None)
    train.add_argument("--lr", type=float, default=None)
    train.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "adamax", "rmsprop"], default=None)
    train.add_argument("--momentum", type=float, default=None)
    train.add_argument("--weight-decay", type=float, default=None)
    train.add_argument("--scheduler", type=_scheduler_spec, default="recipe",
                       help="none | step:STEP[:GAMMA] | multistep:M1,M2[:GAMMA] | exponential:GAMMA | "
                            "cosine:T_MAX[:ETA_MIN] (default: the recipe's)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--data", default=None, help="folder holding the MNIST files (default: "
                       "$TINYCOMPRESS_DATA, then ./data, then the bundled subset)")
    train.add_argument("--out", default=None, help="run folder (default: runs/MODEL)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/last.npz")
    train.add_argument("--plot", action="store_true", help="write OUT/curves.png (needs matplotlib)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--max-steps", type=int, default=None, help="at most this many steps per epoch "
                       "(smoke runs)")
    _family_train_arguments(train)

    ev = sub.add_parser("eval", help="evaluate a checkpoint (or a deployed file) on the MNIST test set")
    src = ev.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint")
    src.add_argument("--packed", help="a deployed .npz written by `tinycompress export`")
    ev.add_argument("--data", default=None)
    ev.add_argument("--batch-size", type=int, default=1000)

    ex = sub.add_parser("export", help="turn a trained checkpoint into its deployed (compressed) form")
    ex.add_argument("--checkpoint", required=True)
    ex.add_argument("--out", required=True)
    ex.add_argument("--format", choices=["auto", "dense", "sparse", "factorized", "packed"], default="auto",
                    help="auto: the model family's format (packed bits, CSR, thin factors, dense float)")

    _report_arguments(sub.add_parser("report", help="per-layer parameters, bytes and MACs of a checkpoint or a "
                                     "deployed file"))
    compare_arguments(sub.add_parser("compare", help="train one MLP dense, binarized, pruned and low-rank on "
                                         "MNIST; deploy each; table and plot"))
    return parser


def _report_arguments(parser) -> None:
    """The ``tinycompress report`` flags: ``--checkpoint FILE | --packed FILE``, ``--json``, ``--input-shape``."""
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a training checkpoint (OUT/last.npz); its export(model) is measured")
    src.add_argument("--packed", help="a deployed .npz written by `tinycompress export`")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--input-shape", default=None, help="e.g. 1,784 or 1,1,28,28 (default: from the recipe)")


#: the per-sample input shape (batch 1) of each recipe ``input`` layout
INPUT_SHAPES = {"flat": (1, 784), "image": (1, 1, 28, 28), "image32x3": (1, 3, 32, 32)}


def _parse_shape(text: str) -> tuple:
    try:
        shape = tuple(int(s) for s in str(text).replace("x", ",").split(",") if s.strip())
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise SystemExit(f"error: --input-shape {text!r}: give positive integers separated by commas, e.g. 1,784")
    return shape


def _input_shape(recipe: dict, explicit=None) -> tuple:
    """``--input-shape`` if given, else the recipe's input layout."""
    if explicit:
        return _parse_shape(explicit)
    layout = (recipe or {}).get("input", "flat")
    if layout not in INPUT_SHAPES:
        raise SystemExit(f"error: unknown input layout {layout!r}; give --input-shape")
    return INPUT_SHAPES[layout]


def model_from_checkpoint(path):
    """``(model, config, state)`` of a training checkpoint: the registered model its config names, built
    and given the checkpoint's weights (and structure: pruning masks, truncated ranks). The one
    "checkpoint -> built model" path of eval, export, report and resume."""
    from .train import load_checkpoint
    state = load_checkpoint(path)
    config = json.loads(state["config"])
    model = models.build(config["model"])
    load_model_state(model, state["model"])
    return model, config, state


def cmd_report(args) -> int:
    """``tinycompress report``: the report of ``--checkpoint`` (its export measured) or ``--packed``."""
    from .compress.report import report
    if args.packed:
        from .compress.deploy import load_deployed
        model = load_deployed(args.packed)
        recipe = model.meta.get("recipe") or {}
    else:
        model, config, _ = model_from_checkpoint(args.checkpoint)
        recipe = config["recipe"]
    result = report(model, _input_shape(recipe, getattr(args, "input_shape", None)))
    print(result.to_json() if getattr(args, "json", False) else result.table())
    return 0


def _family_train_arguments(train) -> None:
    """Flags of the compression families (each used only by the models or runs that need it)."""
    binary = train.add_argument_group("binarized networks")
    binary.add_argument("--clip-weights", action="store_true",
                        help="clip binarized layers' latent weights to [-1, 1] after every step (BNN paper)")
    pruning = train.add_argument_group("pruning (any model with Linear/Conv2d layers)")
    pruning.add_argument("--prune", choices=["l1", "random", "ln"], default=None,
                         help="prune by weight magnitude (l1), at random, or whole neurons/filters by L2 norm (ln)")
    pruning.add_argument("--sparsity", type=float, default=0.9, help="fraction of weights removed (default 0.9)")
    pruning.add_argument("--prune-schedule", choices=["oneshot", "iterative", "gradual"], default="iterative",
                         help="iterative: Han et al. 2015 (1 dense epoch, then 3 prune/retrain stages at 0.1x lr); "
                              "gradual: Zhu & Gupta 2017's cubic ramp; oneshot: prune before the first epoch")
    pruning.add_argument("--prune-scope", choices=["layer", "global"], default="layer")
    lowrank = train.add_argument_group("low-rank (models with LinearSVD/Conv2dSVD layers, e.g. svd_mlp)")
    lowrank.add_argument("--svd-lambda-o", type=float, default=None, help="orthogonality regulariser weight")
    lowrank.add_argument("--svd-lambda-s", type=float, default=None, help="singular-value sparsity weight")
    lowrank.add_argument("--svd-sparsity", choices=["hoyer", "l1"], default="hoyer")
    lowrank.add_argument("--svd-truncate", type=float, default=None, metavar="ENERGY",
                         help="after training, keep per layer the rank holding ENERGY of Σs², then fine-tune")
    lowrank.add_argument("--finetune-epochs", type=int, default=1, help="epochs of fine-tuning after truncation")
    lowrank.add_argument("--finetune-lr", type=float, default=None, help="fine-tuning lr (default: 0.1x --lr)")


_FAMILY_KEYS = {"clip_weights", "prune", "sparsity", "prune_schedule", "prune_scope", "svd_lambda_o",
                "svd_lambda_s", "svd_sparsity", "svd_truncate", "finetune_epochs", "finetune_lr"}


def _family_callbacks(family: dict, recipe, model) -> list:
    """The callbacks the recipe names and the family flags ask for."""
    callbacks = []
    if family.get("clip_weights") or "clip_weights" in recipe.callbacks:
        from .compress.binary import ClipWeights
        callbacks.append(ClipWeights())
    if family.get("prune"):
        from .compress.prune import make_pruning_callback, prepare_model
        prepare_model(model)                  # before the optimizer: fresh and resumed runs order params alike
        callbacks.append(make_pruning_callback(family["prune"], family["sparsity"], family["prune_schedule"],
                                               family["prune_scope"], epochs=recipe.epochs))
    if family.get("svd_lambda_o") is not None or family.get("svd_lambda_s") is not None:
        from .compress.lowrank import SVDRegularizer
        callbacks.append(SVDRegularizer(family.get("svd_lambda_o") or 0.0, family.get("svd_lambda_s") or 0.0,
                                        family.get("svd_sparsity", "hoyer")))
    return callbacks


def _config(args) -> dict:
    name = args.model or DEFAULT_MODEL
    if name not in models.names():
        raise SystemExit(f"error: unknown --model {name!r}; choose one of: {', '.join(models.names())}")
    recipe = models.recipe(name)
    scheduler = recipe.scheduler if args.scheduler == "recipe" else args.scheduler
    optimizer_kwargs = dict(recipe.optimizer_kwargs)
    if args.optimizer and args.optimizer != recipe.optimizer:
        optimizer_kwargs = {}
    if args.momentum is not None:
        optimizer_kwargs["momentum"] = args.momentum
    if args.weight_decay is not None:
        optimizer_kwargs["weight_decay"] = args.weight_decay
    recipe = dataclasses.replace(
        recipe,
        optimizer=args.optimizer or recipe.optimizer,
        lr=args.lr if args.lr is not None else recipe.lr,
        batch_size=args.batch_size or recipe.batch_size,
        test_batch_size=args.test_batch_size or recipe.test_batch_size,
        epochs=args.epochs if args.epochs is not None else recipe.epochs,
        scheduler=scheduler, optimizer_kwargs=optimizer_kwargs)
    family = {k: v for k, v in vars(args).items() if k in _FAMILY_KEYS}
    if family["prune"] is not None and not 0.0 <= family["sparsity"] < 1.0:
        raise SystemExit(f"error: --sparsity {family['sparsity']} must be a fraction in [0, 1)")
    if family["svd_truncate"] is not None and not 0.0 < family["svd_truncate"] <= 1.0:
        raise SystemExit(f"error: --svd-truncate {family['svd_truncate']} must be an energy fraction in (0, 1]")
    return {"model": name, "recipe": recipe.to_dict(), "seed": args.seed, "family": family, "phase": "train"}


def _phases(config) -> list[str]:
    """'train', then 'finetune' when the run truncates a low-rank model (the paper's pipeline)."""
    return ["train", "finetune"] if config["family"].get("svd_truncate") is not None else ["train"]


def _finetune_recipe(recipe, family):
    lr = family.get("finetune_lr") or 0.1 * recipe.lr
    return dataclasses.replace(recipe, lr=lr, epochs=family.get("finetune_epochs", 1), scheduler=None)


def cmd_train(args) -> int:
    import tinycompress as tc

    out = args.out or os.path.join("runs", args.model or DEFAULT_MODEL)
    last = os.path.join(out, "last.npz")
    state = None
    if args.resume:
        if not os.path.exists(last):
            print(f"error: --resume: no checkpoint at {last}; start a run with --out {out} first", file=sys.stderr)
            return 2
        model, config, state = model_from_checkpoint(last)
        if args.epochs is not None and config["phase"] == "train":
            config["recipe"]["epochs"] = args.epochs
    else:
        config = _config(args)
        if os.path.exists(os.path.join(out, "metrics.jsonl")):
            os.remove(os.path.join(out, "metrics.jsonl"))
    tc.manual_seed(config["seed"])
    if state is None:
        model = models.build(config["model"])
    history = []
    for phase in _phases(config)[_phases(config).index(config["phase"]):]:
        config["phase"] = phase
        history += _run_phase(args, config, model, out, state)
        state = None
    if args.plot:
        from .plots import plot_curves
        path = plot_curves(history, os.path.join(out, "curves.png"), title=config["model"])
        if path:
            print(f"wrote {path}")
    if history:
        print(f"final test accuracy: {history[-1].get('test_acc', float('nan')):.4f}")
    return 0


def _run_phase(args, config, model, out, state) -> list[dict]:
    """One phase of a run: the main training, or (after low-rank truncation) the fine-tuning."""
    from .models import make_optimizer, make_scheduler, mnist_loaders
    from .train import Checkpoint, MetricsLogger, Trainer
    recipe = models.Recipe(**config["recipe"])
    family = config["family"]
    if config["phase"] == "train":
        callbacks = _family_callbacks(family, recipe, model)
    else:
        recipe = _finetune_recipe(recipe, family)
        callbacks = []
        if state is None:                                  # entering the phase: truncate now
            from .compress.lowrank import format_summary, truncate
            print(f"truncating to {family['svd_truncate']} of the singular-value energy:")
            print(format_summary(truncate(model, family["svd_truncate"])))
    optimizer = make_optimizer(recipe, model.parameters())
    scheduler = make_scheduler(recipe, optimizer)
    train_loader, test_loader = mnist_loaders(recipe, root=args.data)
    callbacks += [MetricsLogger(os.path.join(out, "metrics.jsonl")),
                  Checkpoint(os.path.join(out, "last.npz"), extra={"config": json.dumps(config)})]
    trainer = Trainer(model, optimizer, train_loader, epochs=recipe.epochs, scheduler=scheduler,
                      test_loader=test_loader, callbacks=callbacks, progress=not args.no_progress,
                      max_steps_per_epoch=args.max_steps)
    start = 0
    if state is not None:
        start = trainer.load_state_dict(state)
        print(f"resuming {config['model']} ({config['phase']}) from epoch {start} of {recipe.epochs}")
    print(f"{'training' if config['phase'] == 'train' else 'fine-tuning'} {config['model']} for {recipe.epochs} "
          f"epochs: {recipe.optimizer} lr {recipe.lr}, batch {recipe.batch_size}, scheduler {recipe.scheduler}; "
          f"writing {out}/")
    return trainer.fit(start_epoch=start)


def cmd_eval(args) -> int:
    from .models import Recipe, mnist_loaders
    from .train import evaluate
    if args.packed:
        from .compress.deploy import load_deployed
        deployed = load_deployed(args.packed)
        recipe = Recipe(**deployed.meta["recipe"]) if "recipe" in deployed.meta else Recipe()
        _, test_loader = mnist_loaders(recipe, root=args.data, test_batch_size=args.batch_size)
        correct = total = 0
        for x, y in test_loader:
            correct += int((deployed(x.array).argmax(1) == y.array).sum())
            total += len(y)
        print(f"deployed model {args.packed} ({deployed.format}): {deployed.nbytes:,} bytes, test accuracy "
              f"{correct / total:.4f}")
        return 0
    model, config, _ = model_from_checkpoint(args.checkpoint)
    _, test_loader = mnist_loaders(Recipe(**config["recipe"]), root=args.data, test_batch_size=args.batch_size)
    result = evaluate(model, test_loader)
    print(f"{config['model']} from {args.checkpoint}: test loss {result['loss']:.4f}, test accuracy "
          f"{result['acc']:.4f}")
    return 0


def cmd_export(args) -> int:
    from .compress.deploy import export
    model, config, _ = model_from_checkpoint(args.checkpoint)
    deployed = export(model, format=args.format, meta={"model": config["model"], "recipe": config["recipe"]})
    deployed.save(args.out)
    print(f"wrote {args.out}: {deployed.format} form, {deployed.nbytes:,} bytes deployed")
    return 0


# ------------------------------------------------------------------------------------------------
def compare_arguments(parser) -> None:
    """The flags of ``tinycompress compare`` / ``examples/compare.py``."""
    parser.add_argument("--epochs", type=int, default=3, help="epochs per method, the same budget for all (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("runs", "compare"), help="folder for compare.json/.md/.png "
                        "and the deployed models (default runs/compare)")
    parser.add_argument("--data", default=None, help="folder holding MNIST (default: $TINYCOMPRESS_DATA, ./data, "
                        "then the bundled subset)")
    parser.add_argument("--max-steps", type=int, default=None, help="at most this many batches per epoch (smoke runs)")
    parser.add_argument("--sparsity", type=float, default=0.9, help="pruned method: fraction of weights removed")
    parser.add_argument("--energy", type=float, default=0.9, help="low-rank method: singular-value energy kept")
    from .compare import METHODS
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def cmd_compare(args) -> int:
    """Run :func:`run_compare` with parsed :func:`add_compare_arguments` flags; returns an exit code."""
    import time
    from .compare import run_compare
    started = time.perf_counter()
    run_compare(args.epochs, args.seed, args.out, data=args.data, max_steps=args.max_steps,
                progress=not args.no_progress, methods=tuple(args.methods), sparsity=args.sparsity,
                energy=args.energy)
    print(f"wrote {os.path.join(args.out, 'compare.json')} and compare.md in {time.perf_counter() - started:.0f} s")
    return 0


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    commands = {"train": cmd_train, "eval": cmd_eval, "export": cmd_export, "report": cmd_report,
                "compare": cmd_compare}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
