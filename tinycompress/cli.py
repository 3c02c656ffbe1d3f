"""``tinycompress train | eval | export | report``: the command line.

    tinycompress train                               # seed 000's binarized MLP on MNIST
    tinycompress train --model bn_mlp --epochs 3     # any registered model, its seed's recipe
    tinycompress train --model conv_bn_net --epochs 2 --out runs/conv --plot
    tinycompress train --out runs/conv --resume      # continue a stopped run exactly
    tinycompress eval --checkpoint runs/conv/last.npz

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

DEFAULT_MODEL = "bnn_mlp"
FALLBACK_MODEL = "bn_mlp"


def _default_model() -> str:
    return DEFAULT_MODEL if DEFAULT_MODEL in models.names() else FALLBACK_MODEL


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
                       f"{_default_model()})")
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
    ex.add_argument("--format", choices=["auto", "packed", "sparse", "factorized"], default="auto")
    return parser


def _family_train_arguments(train) -> None:
    """Flags of the compression families (each used only by the models or runs that need it)."""
    train.add_argument("--clip-weights", action="store_true",
                       help="clip binarized layers' latent weights to [-1, 1] after every step (BNN paper)")


def _family_callbacks(args, model) -> list:
    callbacks = []
    if getattr(args, "clip_weights", False):
        from .compress.binary import ClipWeights
        callbacks.append(ClipWeights())
    return callbacks


def _config(args) -> dict:
    name = args.model or _default_model()
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
    return {"model": name, "recipe": recipe.to_dict(), "seed": args.seed, "family": family}


_FAMILY_KEYS = {"clip_weights"}


def cmd_train(args) -> int:
    import tinycompress as tc
    from .train import Checkpoint, MetricsLogger, Trainer, load_checkpoint, make_optimizer, make_scheduler, \
        mnist_loaders

    out = args.out or os.path.join("runs", args.model or _default_model())
    last = os.path.join(out, "last.npz")
    state = None
    if args.resume:
        if not os.path.exists(last):
            print(f"error: --resume: no checkpoint at {last}; start a run with --out {out} first", file=sys.stderr)
            return 2
        state = load_checkpoint(last)
        config = json.loads(state["config"])
        if args.epochs is not None:
            config["recipe"]["epochs"] = args.epochs
    else:
        config = _config(args)
        if os.path.exists(os.path.join(out, "metrics.jsonl")):
            os.remove(os.path.join(out, "metrics.jsonl"))
    recipe = models.Recipe(**config["recipe"])
    tc.manual_seed(config["seed"])
    model = models.build(config["model"])
    optimizer = make_optimizer(recipe, model.parameters())
    scheduler = make_scheduler(recipe, optimizer)
    train_loader, test_loader = mnist_loaders(recipe, root=args.data)
    callbacks = _family_callbacks(argparse.Namespace(**config["family"]), model)
    callbacks += [MetricsLogger(os.path.join(out, "metrics.jsonl")),
                  Checkpoint(last, extra={"config": json.dumps(config)})]
    trainer = Trainer(model, optimizer, train_loader, epochs=recipe.epochs, scheduler=scheduler,
                      test_loader=test_loader, callbacks=callbacks, progress=not args.no_progress,
                      max_steps_per_epoch=args.max_steps)
    start = 0
    if state is not None:
        start = trainer.load_state_dict(state)
        print(f"resuming {config['model']} from epoch {start} of {recipe.epochs}")
    print(f"training {config['model']} for {recipe.epochs} epochs: {recipe.optimizer} lr {recipe.lr}, batch "
          f"{recipe.batch_size}, scheduler {recipe.scheduler}; writing {out}/")
    history = trainer.fit(start_epoch=start)
    if args.plot:
        from .plots import plot_curves
        path = plot_curves(history, os.path.join(out, "curves.png"), title=config["model"])
        if path:
            print(f"wrote {path}")
    if history:
        print(f"final test accuracy: {history[-1].get('test_acc', float('nan')):.4f}")
    return 0


def cmd_eval(args) -> int:
    from .train import evaluate, load_checkpoint, mnist_loaders
    if args.packed:
        from .compress.deploy import load_deployed
        deployed = load_deployed(args.packed)
        recipe = models.Recipe(**deployed.meta["recipe"]) if "recipe" in deployed.meta else models.Recipe()
        _, test_loader = mnist_loaders(recipe, root=args.data, test_batch_size=args.batch_size)
        correct = total = 0
        for x, y in test_loader:
            correct += int((deployed(x.data).argmax(1) == y.data).sum())
            total += len(y)
        print(f"deployed model {args.packed}: {deployed.nbytes:,} bytes, test accuracy {correct / total:.4f}")
        return 0
    state = load_checkpoint(args.checkpoint)
    config = json.loads(state["config"])
    recipe = models.Recipe(**config["recipe"])
    model = models.build(config["model"])
    model.load_state_dict(state["model"])
    _, test_loader = mnist_loaders(recipe, root=args.data, test_batch_size=args.batch_size)
    result = evaluate(model, test_loader)
    print(f"{config['model']} from {args.checkpoint}: test loss {result['loss']:.4f}, test accuracy "
          f"{result['acc']:.4f}")
    return 0


def cmd_export(args) -> int:
    from .compress.deploy import export
    from .train import load_checkpoint
    state = load_checkpoint(args.checkpoint)
    config = json.loads(state["config"])
    model = models.build(config["model"])
    model.load_state_dict(state["model"])
    model.eval()
    deployed = export(model, format=args.format, meta={"model": config["model"], "recipe": config["recipe"]})
    deployed.save(args.out)
    print(f"wrote {args.out}: {deployed.nbytes:,} bytes deployed")
    return 0


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    return {"train": cmd_train, "eval": cmd_eval, "export": cmd_export}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
