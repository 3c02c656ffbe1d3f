"""``tinycompress train | eval | export | report | compare``: the command line.

    tinycompress train                               # seed 000's binarized MLP on MNIST
    tinycompress train --model bn_mlp --epochs 3     # any registered model, its seed's recipe
    tinycompress train --model conv_bn_net --epochs 2 --out runs/conv --plot
    tinycompress train --out runs/conv --resume      # continue a stopped run exactly
    tinycompress eval --checkpoint runs/conv/last.npz
    tinycompress export --checkpoint runs/conv/last.npz --out deployed.npz && tinycompress report --packed deployed.npz
    tinycompress train --model lenet300_100 --bits 4                            # 4-bit quantization-aware training
    tinycompress export --checkpoint runs/lenet300_100/last.npz --ptq 8 --out int8.npz   # post-training int8
    tinycompress train --model bnn_mlp --teacher runs/lenet300_100/last.npz      # distilled from a float teacher
    tinycompress compare --epochs 3                  # the families side by side (--curves: each over its knob)

Every default comes from the model's recipe (``tinycompress.models.recipe(name)``); flags
override it. Runs write ``OUT/metrics.jsonl`` (one JSON object per epoch), ``OUT/last.npz``
(the whole training state) and, with ``--plot``, ``OUT/curves.png``.

A user's mistake (a bad flag value, a missing or damaged file, a diverging run) is one line,
``tinycompress: error: ...``, and exit status 2; Ctrl-C says where the last checkpoint is and exits
130. Every check that can be made before training is made before training. ``--debug`` (or
``$TINYCOMPRESS_DEBUG=1``) shows the Python traceback instead.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile

import numpy as np

from . import models
from .callbacks import Callback
from .models.recipes import OPTIMIZERS
from .train import load_model_state

DEFAULT_MODEL = "bnn_mlp"          # seed 000's binarized MLP
RUN_FILES = ("metrics.jsonl", "last.npz", "curves.png")     # what a run writes into its folder


class CLIError(Exception):
    """A mistake the user can fix: printed as one line ``tinycompress: error: <message>``, exit status 2."""


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("tinycompress")
    except Exception:                                    # not installed (run from a source tree)
        return "unknown"


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
    parser.add_argument("--version", action="version", version=f"tinycompress {_version()}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command")
    debug = argparse.ArgumentParser(add_help=False)       # --debug after the command too
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    data_help = ("folder holding the four MNIST files (default: $TINYCOMPRESS_DATA; with neither, ./data, "
                 "then the 2,000-test-image subset bundled with the package, saying so)")

    train = sub.add_parser("train", help="train a registered model on MNIST", parents=[debug],
                           epilog=_recipe_table(), formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--model", default=None, help=f"one of: {', '.join(models.names())} (default: "
                       f"{DEFAULT_MODEL})")
    train.add_argument("--epochs", type=int, default=None, help="default: the recipe's (below)")
    train.add_argument("--batch-size", type=int, default=None, help="default: the recipe's (below)")
    train.add_argument("--test-batch-size", type=int, default=None, help="default: the recipe's (below)")
    train.add_argument("--lr", type=float, default=None, help="default: the recipe's (below)")
    train.add_argument("--optimizer", choices=list(OPTIMIZERS), default=None,
                       help="default: the recipe's (below)")
    train.add_argument("--momentum", type=float, default=None, help="default: the recipe's (below), else 0")
    train.add_argument("--weight-decay", type=float, default=None, help="default: the recipe's (below), else 0")
    train.add_argument("--scheduler", type=_scheduler_spec, default="recipe",
                       help="none | step:STEP[:GAMMA] | multistep:M1,M2[:GAMMA] | exponential:GAMMA | "
                            "cosine:T_MAX[:ETA_MIN] (default: the recipe's)")
    train.add_argument("--seed", type=int, default=None, help="default: 0")
    train.add_argument("--data", default=None, help=data_help)
    train.add_argument("--out", default=None, help="run folder (default: runs/MODEL); it must be new or empty "
                       "unless --resume or --overwrite")
    train.add_argument("--resume", action="store_true", help="continue the run in OUT from OUT/last.npz")
    train.add_argument("--overwrite", action="store_true", help="start over in OUT, deleting the run there "
                       "(metrics.jsonl, last.npz, curves.png)")
    train.add_argument("--plot", action="store_true", help="write OUT/curves.png (needs matplotlib)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (nor progress lines)")
    train.add_argument("--max-steps", type=int, default=None, help="at most this many steps per epoch "
                       "(smoke runs; default: every batch)")
    train.add_argument("--init", default=None, metavar="CKPT", help="start from the weights of this checkpoint of the "
                       "same model (e.g. QAT or pruning fine-tuning a trained float run)")
    _family_train_arguments(train)

    ev = sub.add_parser("eval", help="evaluate a checkpoint (or a deployed file) on the MNIST test set",
                        parents=[debug])
    src = ev.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint")
    src.add_argument("--packed", help="a deployed .npz written by `tinycompress export`")
    ev.add_argument("--data", default=None, help=data_help)
    ev.add_argument("--batch-size", type=int, default=1000, help="default: 1000")

    ex = sub.add_parser("export", help="turn a trained checkpoint into its deployed (compressed) form",
                        parents=[debug])
    ex.add_argument("--checkpoint", required=True)
    ex.add_argument("--out", required=True, help="the deployed file to write (never the checkpoint itself)")
    ex.add_argument("--format", choices=["auto", "dense", "sparse", "factorized", "packed", "quantized"],
                    default="auto", help="default auto: the model family's format (dense float, CSR, thin factors, "
                    "packed bits, integer codes)")
    ex.add_argument("--force", action="store_true", help="replace --out if it exists")
    ex.add_argument("--ptq", type=int, default=None, metavar="BITS", help="post-training quantization: BITS-bit "
                    "weights (2-8) for the checkpoint's Linear/Conv2d layers, calibrated on training batches, no "
                    "retraining")
    ex.add_argument("--act-bits", type=int, default=None, help="with --ptq: bits of the layers' inputs (default: BITS)")
    ex.add_argument("--calibration-batches", type=int, default=16, help="with --ptq: training batches the observers "
                    "see (default 16)")
    ex.add_argument("--data", default=None, help="with --ptq: the MNIST folder to calibrate on")

    _report_arguments(sub.add_parser("report", help="per-layer parameters, bytes and MACs of a checkpoint (its "
                                     "export measured) or a deployed file", parents=[debug]))
    compare_arguments(sub.add_parser("compare", help="train one MLP dense, binarized, pruned and low-rank on "
                                      "MNIST; deploy each; table and plot", parents=[debug]))
    return parser


def _report_arguments(parser) -> None:
    """``tinycompress report``: ``--checkpoint FILE | --packed FILE``, ``--json``, ``--input-shape``."""
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a training checkpoint (OUT/last.npz); its export(model) is measured")
    src.add_argument("--packed", help="a deployed .npz written by `tinycompress export`")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--input-shape", default=None, help="e.g. 1,784 or 1,1,28,28 (default: from the recipe)")


def compare_arguments(parser) -> None:
    """``tinycompress compare`` (and ``examples/compare.py``)."""
    from .compare import ALL_METHODS, METHODS
    parser.add_argument("--epochs", type=int, default=3, help="epochs per method, the same budget for all (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("runs", "compare"), help="folder for compare.json/.md/.png "
                        "and the deployed models (default runs/compare)")
    parser.add_argument("--data", default=None, help="folder holding MNIST (default: $TINYCOMPRESS_DATA, ./data, "
                        "then the bundled subset)")
    parser.add_argument("--max-steps", type=int, default=None, help="at most this many batches per epoch (smoke runs)")
    parser.add_argument("--sparsity", type=float, default=0.9, help="pruned method: fraction of weights removed")
    parser.add_argument("--energy", type=float, default=0.9, help="low-rank method: singular-value energy kept")
    parser.add_argument("--methods", nargs="+", choices=ALL_METHODS, default=list(METHODS),
                        help=f"default: {' '.join(METHODS)}; pruned-obs adds one-shot layer-wise OBS")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--curves", action="store_true", help="sweep each family over its knob (binarized layers, "
                        "sparsity 80-98%%, energy 0.8-0.99, 8/4/2 bits PTQ and QAT) and plot one curve per family: "
                        "writes curves.json/.md/.png (--sparsity, --energy and --methods are not used)")
    parser.add_argument("--quick", action="store_true", help="with --curves: a small sweep (two points per family)")


def _recipe_table() -> str:
    """``train --help``'s epilog: each model's recipe, i.e. the defaults of the flags above."""
    lines = ["recipes (the defaults per --model):"]
    for name in models.names():
        r = models.recipe(name)
        extra = "".join(f", {k} {v}" for k, v in r.optimizer_kwargs.items())
        sched = "none" if not r.scheduler else ":".join(str(v) for v in r.scheduler.values())
        lines.append(f"  {name:<16} {r.epochs} epochs, batch {r.batch_size} (test {r.test_batch_size}), "
                     f"{r.optimizer} lr {r.lr}{extra}, scheduler {sched}"
                     + (", " + ", ".join(c.replace("_", "-") for c in r.callbacks) if r.callbacks else ""))
    return "\n".join(lines)


def _family_train_arguments(train) -> None:
    """Flags of the compression families (each used only by the models or runs that need it)."""
    binary = train.add_argument_group("binarized networks")
    binary.add_argument("--clip-weights", action="store_true",
                        help="clip binarized layers' latent weights to [-1, 1] after every step (BNN paper)")
    pruning = train.add_argument_group("pruning (any model with Linear/Conv2d layers)")
    pruning.add_argument("--prune", choices=["l1", "random", "ln", "taylor", "obd", "obs", "movement", "snip"],
                         default=None,
                         help="prune by weight magnitude (l1), at random, whole neurons/filters by L2 norm (ln), or by "
                              "the loss: first-order Taylor |w·g| (taylor), Optimal Brain Damage ½H_ii·w² with "
                              "Hutchinson's Hessian diagonal (obd), layer-wise Optimal Brain Surgeon, which also "
                              "updates the kept weights (obs), movement −Σw·g while training (movement), SNIP's "
                              "|w·g| (snip; at initialisation with --prune-schedule oneshot)")
    pruning.add_argument("--sparsity", type=_sparsity_spec, default=None, metavar="S|LAYER=S,...",
                         help="fraction of weights removed (default 0.9), in every layer (--prune-scope layer) or "
                              "over all of them (global); or per layer, e.g. fc1=0.98,fc2=0.98,fc3=0.94 (layers "
                              "not named stay dense)")
    pruning.add_argument("--prune-schedule", choices=["oneshot", "iterative", "gradual"], default=None,
                         help="iterative: Han et al. 2015 (1 dense epoch, then 3 prune/retrain stages at 0.1x lr); "
                              "gradual: Zhu & Gupta 2017's cubic ramp; oneshot: prune before the first epoch "
                              "(default: iterative)")
    pruning.add_argument("--prune-scope", choices=["layer", "global"], default=None, help="default: layer")
    pruning.add_argument("--prune-stages", type=int, default=None, help="iterative schedule: prune/retrain stages "
                         "(default 3)")
    pruning.add_argument("--prune-frequency", type=int, default=None, metavar="STEPS",
                         help="gradual schedule: prune every STEPS optimizer steps along the cubic ramp (Zhu & "
                              "Gupta's Δt; default: 10 pruning steps over the ramp, which ends at 3/4 of training)")
    pruning.add_argument("--rewind", type=_rewind_spec, default=None, metavar="init|K",
                         help="lottery tickets (Frankle & Carbin): after each iterative stage's pruning, rewind the "
                              "surviving weights to their initial values (init) or to those after step K, clear the "
                              "optimizer state and retrain at the full lr; the epochs are split into "
                              "prune-stages + 1 equal rounds")
    pruning.add_argument("--calib-batches", type=int, default=None, help="training batches the loss-aware "
                         "criteria (taylor, obd, snip, obs) measure on (default 16)")
    lowrank = train.add_argument_group("low-rank (models with LinearSVD/Conv2dSVD layers, e.g. svd_mlp)")
    lowrank.add_argument("--svd-lambda-o", type=float, default=None, help="orthogonality regulariser weight "
                         "(default: 0, off)")
    lowrank.add_argument("--svd-lambda-s", type=float, default=None, help="singular-value sparsity weight "
                         "(default: 0, off)")
    lowrank.add_argument("--svd-sparsity", choices=["hoyer", "l1"], default=None, help="default: hoyer")
    lowrank.add_argument("--svd-truncate", type=float, default=None, metavar="ENERGY",
                         help="after training, keep per layer the rank holding ENERGY of Σs², then fine-tune")
    lowrank.add_argument("--finetune-epochs", type=int, default=None, help="epochs of fine-tuning after "
                         "truncation (default: 1)")
    lowrank.add_argument("--finetune-lr", type=float, default=None, help="fine-tuning lr (default: 0.1x --lr)")
    quant = train.add_argument_group("k-bit quantization-aware training (any model with Linear/Conv2d layers)")
    quant.add_argument("--bits", type=int, default=None, help="train with BITS-bit weights (2-8, per output channel): "
                       "every Linear/Conv2d becomes a QuantLinear/QuantConv2d (post-training: export --ptq)")
    quant.add_argument("--act-bits", type=int, default=None, help="bits of the layers' inputs (default: --bits)")
    quant.add_argument("--quantizer", choices=["affine", "dorefa"], default=None,
                       help="affine: torch's FakeQuantize with observers; dorefa: DoReFa-Net's (default: affine)")
    distill = train.add_argument_group("distillation (any model)")
    distill.add_argument("--teacher", default=None, metavar="CKPT", help="distil from this trained checkpoint "
                         "(Hinton et al.: alpha*T^2*KL(teacher || student at temperature T) + (1-alpha)*CE)")
    distill.add_argument("--distill-temperature", type=float, default=None, help="T (default 4)")
    distill.add_argument("--distill-alpha", type=float, default=None, help="weight of the soft term (default 0.9)")


def _sparsity_spec(text: str):
    """``--sparsity``: one fraction (``0.9``), or per-layer fractions by qualified layer name
    (``fc1=0.98,fc2=0.98,fc3=0.94``), which the schedules and criteria take as a dict."""
    if "=" not in text:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad --sparsity {text!r}: use a fraction (0.9) or "
                                             "LAYER=FRACTION,... (fc1=0.98,fc2=0.9)") from None
    rates = {}
    for part in text.split(","):
        layer, _, value = (x.strip() for x in part.partition("="))
        try:
            fraction = float(value)
        except ValueError:
            fraction = None
        if not layer or fraction is None or layer in rates:
            raise argparse.ArgumentTypeError(f"bad --sparsity {text!r} at {part!r}: use LAYER=FRACTION,... with "
                                             "each layer once (fc1=0.98,fc2=0.9)")
        rates[layer] = fraction
    return rates


def _rewind_spec(text: str):
    """``--rewind``: 'init' or a step number K >= 0 (0 is init)."""
    if text == "init":
        return "init"
    try:
        step = int(text)
    except ValueError:
        step = -1
    if step < 0:
        raise argparse.ArgumentTypeError(f"bad --rewind {text!r}: use init or a step number K >= 0")
    return "init" if step == 0 else step


#: the family flags and what each means when not given
FAMILY_DEFAULTS = {"clip_weights": False, "prune": None, "sparsity": 0.9, "prune_schedule": "iterative",
                   "prune_scope": "layer", "prune_stages": None, "prune_frequency": None, "rewind": None, "calib_batches": 16,
                   "svd_lambda_o": None, "svd_lambda_s": None, "svd_sparsity": "hoyer",
                   "svd_truncate": None, "finetune_epochs": 1, "finetune_lr": None, "bits": None, "act_bits": None,
                   "quantizer": "affine", "teacher": None, "distill_temperature": 4.0, "distill_alpha": 0.9,
                   "init": None}
_FAMILY_KEYS = set(FAMILY_DEFAULTS)


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


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
                                               family["prune_scope"], epochs=recipe.epochs,
                                               rewind=family.get("rewind"), stages=family.get("prune_stages"),
                                               calib_batches=family.get("calib_batches") or 16,
                                               frequency=family.get("prune_frequency")))
    if family.get("svd_lambda_o") is not None or family.get("svd_lambda_s") is not None:
        from .compress.lowrank import SVDRegularizer
        callbacks.append(SVDRegularizer(family.get("svd_lambda_o") or 0.0, family.get("svd_lambda_s") or 0.0,
                                        family.get("svd_sparsity", "hoyer")))
    return callbacks


def _check_numbers(args) -> None:
    """Every numeric train flag in its range, before anything runs (argparse checks only the type)."""
    def bad(key, rule):
        raise CLIError(f"{_flag(key)} {getattr(args, key)} is not valid: it must be {rule}")
    for key in ("epochs", "batch_size", "test_batch_size", "max_steps", "finetune_epochs", "prune_stages",
                "prune_frequency", "calib_batches"):
        value = getattr(args, key)
        if value is not None and value < 1:
            bad(key, "a whole number >= 1")
    for key in ("lr", "finetune_lr"):
        value = getattr(args, key)
        if value is not None and not (math.isfinite(value) and value > 0):
            bad(key, "a finite number > 0")
    for key in ("momentum", "weight_decay", "svd_lambda_o", "svd_lambda_s"):
        value = getattr(args, key)
        if value is not None and not (math.isfinite(value) and value >= 0):
            bad(key, "a finite number >= 0")
    if args.seed is not None and args.seed < 0:
        bad("seed", "a whole number >= 0")
    rates = args.sparsity.values() if isinstance(args.sparsity, dict) else [args.sparsity]
    if args.sparsity is not None and not all(0.0 <= s < 1.0 for s in rates):
        bad("sparsity", "a fraction in [0, 1) (each layer's, if given per layer)")
    if args.svd_truncate is not None and not 0.0 < args.svd_truncate <= 1.0:
        bad("svd_truncate", "an energy fraction in (0, 1]")
    for key in ("bits", "act_bits"):
        if getattr(args, key) is not None and not 2 <= getattr(args, key) <= 8:
            bad(key, "a whole number of bits in [2, 8]")
    if args.distill_temperature is not None and not (math.isfinite(args.distill_temperature)
                                                     and args.distill_temperature > 0):
        bad("distill_temperature", "a finite number > 0")
    if args.distill_alpha is not None and not 0.0 <= args.distill_alpha <= 1.0:
        bad("distill_alpha", "a fraction in [0, 1]")
    if args.teacher is not None:
        _load_run_checkpoint(args.teacher, "--teacher")
    if args.init is not None:
        _load_run_checkpoint(args.init, "--init")


def _check_family(name: str, family: dict, epochs: int) -> None:
    """Refuse family flags that would do nothing on this model or without their companion flag."""
    given = {k for k, v in family.items() if v is not None and v is not False}
    needs = {"sparsity": "prune", "prune_schedule": "prune", "prune_scope": "prune", "prune_stages": "prune",
             "prune_frequency": "prune", "rewind": "prune", "calib_batches": "prune",
             "finetune_epochs": "svd_truncate", "finetune_lr": "svd_truncate", "svd_sparsity": "svd_lambda_s",
             "act_bits": "bits", "quantizer": "bits", "distill_temperature": "teacher", "distill_alpha": "teacher"}
    for key, companion in needs.items():
        if key in given and companion not in given:
            raise CLIError(f"{_flag(key)} does nothing without {_flag(companion)}; add {_flag(companion)} or drop it")
    layers = list(models.build(name).modules()) if given & {"clip_weights", "svd_lambda_o", "svd_lambda_s",
                                                            "svd_truncate"} else []
    if "clip_weights" in given:
        from .compress.binary import BINARIZED_LAYERS
        if not any(isinstance(m, BINARIZED_LAYERS) for m in layers):
            raise CLIError(f"--clip-weights: model {name} has no binarized layers to clip; drop the flag or choose "
                           "a binarized model (e.g. bnn_mlp)")
    svd_flags = [k for k in ("svd_lambda_o", "svd_lambda_s", "svd_truncate") if k in given]
    if svd_flags:
        from .compress.lowrank import SVD_LAYERS
        if not any(isinstance(m, SVD_LAYERS) for m in layers):
            raise CLIError(f"{_flag(svd_flags[0])}: model {name} has no LinearSVD/Conv2dSVD layers; drop the flag "
                           "or choose a low-rank model (e.g. svd_mlp)")
    method, schedule = family.get("prune"), family.get("prune_schedule") or "iterative"
    if family.get("rewind") is not None:
        if schedule != "iterative":
            raise CLIError(f"--rewind rewinds after each stage of the iterative schedule; --prune-schedule {schedule} "
                           "has no stages: drop --rewind or use --prune-schedule iterative")
        rounds = (family.get("prune_stages") or 3) + 1
        if epochs < rounds:
            raise CLIError(f"--rewind splits training into prune-stages + 1 = {rounds} rounds of whole epochs, so "
                           f"--epochs {epochs} is too few: give --epochs {rounds} or more")
    if family.get("prune_stages") is not None and schedule != "iterative":
        raise CLIError(f"--prune-stages counts the stages of the iterative schedule, not of {schedule}")
    if family.get("prune_frequency") is not None and schedule != "gradual":
        raise CLIError(f"--prune-frequency spaces the gradual schedule's pruning steps; --prune-schedule {schedule} "
                       "does not have them: add --prune-schedule gradual or drop it")
    if isinstance(family.get("sparsity"), dict):
        if family.get("prune_scope") == "global":
            raise CLIError("per-layer --sparsity sets each layer's own fraction, --prune-scope global one fraction "
                           "over all layers: give one --sparsity, or drop --prune-scope global")
        from .compress.prune import prunable_layers
        names = [n for n, _ in prunable_layers(models.build(name))]
        unknown = sorted(set(family["sparsity"]) - set(names))
        if unknown:
            raise CLIError(f"--sparsity names {', '.join(unknown)}, not a prunable layer of {name}; its layers: "
                           f"{', '.join(names)}")
    if method == "obs" and family.get("prune_scope") == "global":
        raise CLIError("--prune obs is layer-wise (each layer's own reconstruction): drop --prune-scope global")
    if method == "movement" and schedule == "oneshot":
        raise CLIError("--prune movement ranks by −Σw·g accumulated while training, which is empty before the first "
                       "step: use --prune-schedule iterative or gradual")
    if method and (family.get("prune_schedule") or "iterative") == "iterative" and epochs < 2:
        raise CLIError(f"--prune-schedule iterative trains 1 dense epoch before pruning, so --epochs {epochs} would "
                       "prune nothing; give --epochs 2 or more, or use --prune-schedule oneshot or gradual")


def _config(args) -> dict:
    name = args.model or DEFAULT_MODEL
    if name not in models.names():
        raise CLIError(f"unknown --model {name!r}; choose one of: {', '.join(models.names())}")
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
    from .nn import Parameter
    _make_optimizer(recipe, [Parameter(np.zeros(1, np.float32))])    # its options checked before any file
    given = {k: getattr(args, k) for k in _FAMILY_KEYS}
    _check_family(name, given, recipe.epochs)
    family = {k: (FAMILY_DEFAULTS[k] if v is None else v) for k, v in given.items()}
    return {"model": name, "recipe": recipe.to_dict(), "seed": 0 if args.seed is None else args.seed,
            "family": family, "phase": "train"}


def _make_optimizer(recipe, params):
    try:
        return models.make_optimizer(recipe, params)
    except ValueError as error:
        raise CLIError(f"{error}; drop the option or pick an optimizer that takes it") from None


def _resume_conflicts(args, config) -> list[str]:
    """The flags given with --resume that disagree with the run being resumed, each with the run's value."""
    recipe, family = config["recipe"], config["family"]
    kwargs = recipe.get("optimizer_kwargs", {})
    pairs = {"model": config["model"], "lr": recipe["lr"], "optimizer": recipe["optimizer"],
             "batch_size": recipe["batch_size"], "test_batch_size": recipe["test_batch_size"],
             "momentum": kwargs.get("momentum", 0.0), "weight_decay": kwargs.get("weight_decay", 0.0),
             "seed": config["seed"]}
    pairs.update({k: family.get(k, FAMILY_DEFAULTS[k]) for k in _FAMILY_KEYS})
    if "clip_weights" in recipe.get("callbacks", ()):
        pairs["clip_weights"] = True
    conflicts = []
    for key, run_value in pairs.items():
        value = getattr(args, key)
        if value is None or (key == "clip_weights" and not value) or value == run_value:
            continue
        conflicts.append(f"{_flag(key)} {value} (the run has {run_value})")
    if args.scheduler != "recipe" and args.scheduler != recipe["scheduler"]:
        conflicts.append(f"--scheduler (the run has {recipe['scheduler']})")
    if args.epochs is not None and config["phase"] != "train" and args.epochs != recipe["epochs"]:
        conflicts.append(f"--epochs {args.epochs} (the run is fine-tuning; its {recipe['epochs']} training epochs "
                         "are done)")
    return conflicts


def _phases(config) -> list[str]:
    """'train', then 'finetune' when the run truncates a low-rank model (the paper's pipeline)."""
    return ["train", "finetune"] if config["family"].get("svd_truncate") is not None else ["train"]


def _finetune_recipe(recipe, family):
    lr = family.get("finetune_lr") or 0.1 * recipe.lr
    return dataclasses.replace(recipe, lr=lr, epochs=family.get("finetune_epochs", 1), scheduler=None)


def _prepare_out(out: str, resume: bool, overwrite: bool) -> list[str]:
    """Check the run folder before training: a folder (or creatable), writable, and new or empty unless
    --resume / --overwrite. Returns the run files --overwrite is to delete (deleted later, once every
    other check passed)."""
    from .serialization import TEMP_PREFIX
    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError(f"--out {out} is a file; name a folder for the run")
    try:
        os.makedirs(out, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=TEMP_PREFIX, suffix=".npz")
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        raise CLIError(f"--out {out} is not writable ({error.strerror or error}); choose another folder") from None
    if resume:
        return []
    held = sorted(n for n in os.listdir(out) if not n.startswith(TEMP_PREFIX))
    if not held:
        return []
    if not overwrite:
        raise CLIError(f"--out {out} already holds a run ({', '.join(held[:4])}); continue it with --resume, start "
                       "over with --overwrite, or choose another --out")
    others = [n for n in held if n not in RUN_FILES]
    if others:
        raise CLIError(f"--overwrite deletes only a run's files, but {out} also holds {', '.join(others[:4])}; "
                       "choose another --out")
    return held


def _plot_available(args) -> bool:
    if not args.plot:
        return False
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("tinycompress: warning: --plot needs matplotlib (pip install 'tinycompress[plot]'); this run "
              "writes no curves.png", file=sys.stderr)
        return False
    return True


def _find_data(root):
    """``find_mnist`` with the CLI's one line when it falls back to the bundled subset."""
    from .train import find_mnist
    folder, is_subset = find_mnist(root)
    if is_subset:
        print("tinycompress: full MNIST not found (pass --data DIR or set $TINYCOMPRESS_DATA); using the bundled "
              "subset: 10,000 training and 2,000 test images", file=sys.stderr)
    return folder


def _load_run_checkpoint(path: str, flag: str = "--checkpoint") -> dict:
    """A training checkpoint with its configuration, or a CLIError naming the path."""
    from .serialization import LoadError
    from .train import load_checkpoint
    if not os.path.isfile(path):
        raise CLIError(f"{flag} {path}: no such file" if not os.path.exists(path) else f"{flag} {path} is a folder")
    try:
        state = load_checkpoint(path)
        config = json.loads(state["config"])
        config["model"], config["recipe"]
    except LoadError as error:
        raise CLIError(str(error).replace("tc.load: ", f"{flag} ")) from None
    except (ValueError, KeyError, TypeError):
        raise CLIError(f"{flag} {path} is not a checkpoint written by `tinycompress train` (a deployed file? "
                       "use eval --packed)") from None
    state["config"] = config
    return state


def model_from_checkpoint(path, flag: str = "--checkpoint"):
    """``(model, config, state)`` of a training checkpoint: the registered model its config names, built and
    given the checkpoint's weights and structure (pruning masks, truncated ranks). The one "checkpoint ->
    built model" path of eval, export, report and resume; a bad file is a CLIError naming ``flag``."""
    path = os.fspath(path)
    state = _load_run_checkpoint(path, flag)
    return _build_from_checkpoint(state, path), state["config"], state


def build_model(config: dict, init: bool = False):
    """The registered model a run's config names, freshly built -- or, with ``init``, given the weights of the
    run's ``--init`` checkpoint (which must hold the same model) -- its layers quantized if the run is (``--bits``)."""
    model = models.build(config["model"])
    family = config.get("family", {})
    if init and family.get("init"):
        start, start_config, _ = _side_model(family["init"], "--init")
        if start_config["model"] != config["model"]:
            raise CLIError(f"--init {family['init']} holds a {start_config['model']}, not a {config['model']}")
        if any(isinstance(m, _quant_layers()) for m in start.modules()) and family.get("bits"):
            raise CLIError(f"--init {family['init']} is already quantized; give it without --bits to continue it")
        model = start
    if family.get("bits"):
        from .compress.quant import quantize_model
        try:
            quantize_model(model, family["bits"], family.get("act_bits"), family.get("quantizer") or "affine")
        except ValueError as error:
            raise CLIError(f"--bits: {error}") from None
    return model


def _side_model(path, flag):
    """``model_from_checkpoint`` that leaves the library generator as it was: a teacher or an --init source
    changes neither the run's initialisation nor its batch order (a run with --teacher sees the batches the
    same run without it sees)."""
    from .random import get_rng_state, set_rng_state
    state = get_rng_state()
    try:
        return model_from_checkpoint(path, flag)
    finally:
        set_rng_state(state)


def _quant_layers():
    from .compress.quant import QUANT_LAYERS
    return QUANT_LAYERS


def _build_from_checkpoint(state: dict, path: str):
    config = state["config"]
    if config["model"] not in models.names():
        raise CLIError(f"{path}: model {config['model']!r} is not one this version knows ({', '.join(models.names())})")
    model = build_model(config)
    try:
        load_model_state(model, state["model"])
    except (KeyError, ValueError, RuntimeError) as error:
        raise CLIError(f"{path}: its weights do not fit model {config['model']} "
                       f"({str(error).splitlines()[0]})") from None
    return model


def cmd_train(args) -> int:
    import tinycompress as tc
    from .serialization import remove_stale_temporaries
    from .train import MetricsLogger, NonFiniteLossError

    _check_numbers(args)
    out = args.out or os.path.join("runs", args.model or DEFAULT_MODEL)
    last = os.path.join(out, "last.npz")
    state = None
    if args.resume:
        if args.overwrite:
            raise CLIError("--resume continues the run in --out and --overwrite deletes it: give one of them")
        if not os.path.exists(last):
            raise CLIError(f"--resume: no checkpoint at {last}; start a run with --out {out} first")
        model, config, state = model_from_checkpoint(last, "--resume:")
        conflicts = _resume_conflicts(args, config)
        if conflicts:
            raise CLIError(f"--resume continues {out} as it was configured; these flags disagree with it: "
                           f"{'; '.join(conflicts)}. Drop them, or start a new run with another --out")
        if args.epochs is not None and config["phase"] == "train":
            if args.epochs < int(state["epoch"]):
                raise CLIError(f"--epochs {args.epochs}: the run in {out} has already trained {state['epoch']} epochs")
            config["recipe"]["epochs"] = args.epochs
        done = int(state["epoch"])
        target = (config["recipe"]["epochs"] if config["phase"] == "train"
                  else _finetune_recipe(models.Recipe(**config["recipe"]), config["family"]).epochs)
        if config["phase"] == _phases(config)[-1] and done >= target:
            raise CLIError(f"the run in {out} is complete ({done} of {target} epochs); pass --epochs N (more than "
                           f"{done}) to train on")
    else:
        config = _config(args)
    overwritten = _prepare_out(out, args.resume, args.overwrite)
    plot = _plot_available(args)
    data = _find_data(args.data)
    for name in overwritten:
        os.remove(os.path.join(out, name))
    stale = remove_stale_temporaries(out)
    if stale:
        print(f"removed {len(stale)} temporary file(s) a killed run left in {out}/", file=sys.stderr)
    history = []
    if state is not None:                # metrics.jsonl agrees with the checkpoint, whatever a kill left
        history = list(state.get("history", []))
        MetricsLogger(os.path.join(out, "metrics.jsonl")).rewrite(history)
    run = {"epoch": history[-1]["epoch"] if history else None, "checkpoint": None}

    def saved_epoch():
        ckpt = run["checkpoint"]
        return ckpt.saved_epoch if ckpt is not None and ckpt.saved_epoch is not None else run["epoch"]

    def interrupted():
        if saved_epoch() is None:
            return "no checkpoint was written yet"
        return (f"the last checkpoint is {last} (epoch {saved_epoch()}); continue with: tinycompress train "
                f"--out {out} --resume")
    args._interrupted = interrupted

    tc.manual_seed(config["seed"])
    if state is None:
        model = build_model(config, init=True)
    phases = _phases(config)
    try:
        with np.errstate(over="ignore", invalid="ignore"):    # a diverging run is reported once, below
            for phase in phases[phases.index(config["phase"]):]:
                config["phase"] = phase
                history = _run_phase(args, config, model, out, state, history, data, run)
                run["epoch"], state = saved_epoch(), None
    except NonFiniteLossError as error:
        where = (f"{last} still holds epoch {saved_epoch()}, the last with finite weights"
                 if saved_epoch() is not None else "no checkpoint was written")
        raise CLIError(f"{error}; {where}. Check the data for NaN/inf, or start again with a lower --lr "
                       "(--overwrite, or another --out)") from None
    if plot and history:
        from .plots import plot_curves
        flow = run.get("grad_flow_callback")
        path = plot_curves(history, os.path.join(out, "curves.png"), title=config["model"],
                           grad_flow=flow.history if flow is not None else None)
        if path:
            print(f"wrote {path}")
    if history:
        print(f"final test accuracy: {history[-1].get('test_acc', float('nan')):.4f} on {args._test_set}")
    return 0


class _PhaseTag(Callback):
    """Numbers epochs across the run's phases (train, then fine-tune: 1, 2, 3 ... not 1, 2, 1) and names
    the phase in each metrics row."""

    def __init__(self, offset: int, phase: str) -> None:
        self.offset, self.phase = offset, phase

    def on_epoch_end(self, trainer, metrics) -> None:
        metrics["epoch"] += self.offset
        metrics["phase"] = self.phase


def _run_phase(args, config, model, out, state, history, data, run) -> list[dict]:
    """One phase of a run: the main training, or (after low-rank truncation) the fine-tuning. ``history``
    holds the rows of the run so far; returns them with this phase's appended."""
    from .models import make_scheduler, mnist_loaders
    from .train import Checkpoint, MetricsLogger, Trainer, test_set_name
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
    optimizer = _make_optimizer(recipe, model.parameters())
    scheduler = make_scheduler(recipe, optimizer)
    train_loader, test_loader = mnist_loaders(recipe, root=data, quiet=True)
    args._test_set = test_set_name(test_loader)
    offset = sum(1 for row in history if row.get("phase", "train") != config["phase"])
    checkpoint = Checkpoint(os.path.join(out, "last.npz"), extra={"config": json.dumps(config)})
    run["checkpoint"] = checkpoint               # its saved_epoch: what Ctrl-C or a NaN leaves on disk
    callbacks.append(_PhaseTag(offset, config["phase"]))
    if args.plot:       # before the checkpoint, so that it saves the epoch's row (only this callback keeps state)
        from .callbacks import GradientFlow
        from .compress.binary import BINARIZED_LAYERS
        flow = GradientFlow(flip_layers=BINARIZED_LAYERS)
        flow.history = list(run.get("grad_flow", []))      # the earlier phases' rows (a resume reloads them)
        callbacks.append(flow)
        run["grad_flow_callback"] = flow
    callbacks += [checkpoint, MetricsLogger(os.path.join(out, "metrics.jsonl"))]
    trainer = Trainer(model, optimizer, train_loader, epochs=recipe.epochs, scheduler=scheduler,
                      loss_fn=_distillation(family, recipe, model),
                      test_loader=test_loader, callbacks=callbacks, progress=not args.no_progress,
                      max_steps_per_epoch=args.max_steps)
    start = 0
    if state is not None:
        start = trainer.load_state_dict(state)
        print(f"resuming {config['model']} ({config['phase']}) from epoch {start} of {recipe.epochs}")
    else:
        trainer.history = list(history)
    epochs = f"{recipe.epochs} epoch{'s' if recipe.epochs != 1 else ''}"
    print(f"{'training' if config['phase'] == 'train' else 'fine-tuning'} {config['model']} for {epochs}: "
          f"{recipe.optimizer} lr {recipe.lr}, batch {recipe.batch_size}, scheduler {recipe.scheduler}; "
          f"testing on {args._test_set}; writing {out}/")
    history = trainer.fit(start_epoch=start)
    if run.get("grad_flow_callback") is not None:
        run["grad_flow"] = run["grad_flow_callback"].history
    return history


_NORMALIZE = {"half": (0.5, 0.5), "mnist": (0.1307, 0.3081), "unit": (0.0, 1.0)}


def _distillation(family: dict, recipe, model):
    """The run's loss: a DistillationLoss from ``--teacher`` (its inputs re-normalised and reshaped from the
    student's recipe to the teacher's), or None (cross-entropy)."""
    if not family.get("teacher"):
        return None
    from .compress.distill import DistillationLoss
    teacher, config, _ = _side_model(family["teacher"], "--teacher")
    theirs = config["recipe"]
    if "image32x3" in (recipe.input, theirs.get("input")) and recipe.input != theirs.get("input"):
        raise CLIError(f"--teacher {family['teacher']}: its input layout {theirs.get('input')!r} cannot be made from "
                       f"the student's {recipe.input!r}")
    (ms, ss), (mt, st) = _NORMALIZE[recipe.normalize], _NORMALIZE[theirs.get("normalize", "half")]
    shape = (-1, 784) if theirs.get("input", "flat") == "flat" else (-1, 1, 28, 28)

    def teacher_input(x):                     # pixel = x·σ_s + μ_s, then the teacher's normalisation and layout
        if (ms, ss) != (mt, st):
            x = (x * ss + ms - mt) * (1.0 / st)
        return x.reshape(shape) if recipe.input != theirs.get("input", "flat") else x
    return DistillationLoss(model, teacher, family["distill_temperature"], family["distill_alpha"], teacher_input)


def _load_deployed(path: str):
    from .compress.deploy import load_deployed
    if not os.path.isfile(path):
        raise CLIError(f"--packed {path}: no such file" if not os.path.exists(path) else f"--packed {path} is a folder")
    try:
        return load_deployed(path)
    except Exception as error:                     # BadZipFile, EOFError, a missing member, a bad layout ...
        raise CLIError(f"--packed {path} is not a readable deployed file ({type(error).__name__}: "
                       f"{str(error).splitlines()[0] if str(error) else 'no detail'}); write it again with "
                       "`tinycompress export`") from None


def cmd_eval(args) -> int:
    from .models import mnist_loaders
    from .train import evaluate, test_set_name
    if args.batch_size < 1:
        raise CLIError(f"--batch-size {args.batch_size} is not valid: it must be a whole number >= 1")
    if args.packed:
        deployed = _load_deployed(args.packed)
        recipe = models.Recipe(**deployed.meta["recipe"]) if "recipe" in deployed.meta else models.Recipe()
        _, test_loader = mnist_loaders(recipe, root=_find_data(args.data), test_batch_size=args.batch_size, quiet=True)
        correct = total = 0
        for x, y in test_loader:
            correct += int((deployed(x.array).argmax(1) == y.array).sum())
            total += len(y)
        print(f"deployed model {args.packed}: {deployed.nbytes:,} bytes, test accuracy {correct / total:.4f} on "
              f"{test_set_name(test_loader)}")
        return 0
    model, config, _ = model_from_checkpoint(args.checkpoint)
    recipe = models.Recipe(**config["recipe"])
    _, test_loader = mnist_loaders(recipe, root=_find_data(args.data), test_batch_size=args.batch_size, quiet=True)
    result = evaluate(model, test_loader)
    print(f"{config['model']} from {args.checkpoint}: test loss {result['loss']:.4f}, test accuracy "
          f"{result['acc']:.4f} on {test_set_name(test_loader)}")
    return 0


def _post_training_quantize(args, model, config) -> dict:
    """``export --ptq``: quantize the checkpoint's float layers and calibrate them on training batches (seed 0)."""
    import tinycompress as tc
    from .compress.quant import QUANT_LAYERS, calibrate, quantize_model
    from .models import mnist_loaders
    for key, value in (("ptq", args.ptq), ("act_bits", args.act_bits)):
        if value is not None and not 2 <= value <= 8:
            raise CLIError(f"{_flag(key)} {value} is not valid: it must be a whole number of bits in [2, 8]")
    if args.calibration_batches < 1:
        raise CLIError(f"--calibration-batches {args.calibration_batches} is not valid: it must be a whole number >= 1")
    if any(isinstance(m, QUANT_LAYERS) for m in model.modules()):
        raise CLIError(f"--ptq: {args.checkpoint} is already quantized (trained with --bits); export it without --ptq")
    quantize_model(model, args.ptq, args.act_bits)
    tc.manual_seed(0)
    train_loader, _ = mnist_loaders(models.Recipe(**config["recipe"]), root=_find_data(args.data), quiet=True)
    calibrate(model, train_loader, max_batches=args.calibration_batches)
    return {"bits": args.ptq, "act_bits": args.act_bits or args.ptq, "calibration_batches": args.calibration_batches}


def cmd_export(args) -> int:
    from .compress.deploy import export
    if os.path.exists(args.out):
        if os.path.isdir(args.out):
            raise CLIError(f"--out {args.out} is a folder; name the deployed file to write")
        if os.path.exists(args.checkpoint) and os.path.samefile(args.out, args.checkpoint):
            raise CLIError(f"--out {args.out} is the checkpoint being exported; writing there would destroy the "
                           "training state: choose another --out")
        if not args.force:
            raise CLIError(f"--out {args.out} exists; pass --force to replace it, or choose another --out")
    model, config, _ = model_from_checkpoint(args.checkpoint)
    meta = {"model": config["model"], "recipe": config["recipe"]}
    if args.ptq is not None:
        meta["ptq"] = _post_training_quantize(args, model, config)
    elif args.act_bits is not None:
        raise CLIError("--act-bits does nothing without --ptq; add --ptq BITS or drop it")
    deployed = export(model, format=args.format, meta=meta)
    deployed.save(args.out)
    print(f"wrote {args.out}: {deployed.nbytes:,} bytes deployed ({deployed.format})")
    return 0


#: the per-sample input shape (batch 1) of each recipe ``input`` layout
INPUT_SHAPES = {"flat": (1, 784), "image": (1, 1, 28, 28), "image32x3": (1, 3, 32, 32)}


def _parse_shape(text: str) -> tuple:
    try:
        shape = tuple(int(s) for s in str(text).replace("x", ",").split(",") if s.strip())
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise CLIError(f"--input-shape {text!r}: give positive integers separated by commas, e.g. 1,784")
    return shape


def _input_shape(recipe: dict, explicit=None) -> tuple:
    """``--input-shape`` if given, else the one of the recipe's input layout."""
    if explicit:
        return _parse_shape(explicit)
    layout = (recipe or {}).get("input", "flat")
    if layout not in INPUT_SHAPES:
        raise CLIError(f"unknown input layout {layout!r} in the file's recipe; give --input-shape")
    return INPUT_SHAPES[layout]


def cmd_report(args) -> int:
    """The report of ``--packed`` (measured as it is) or of ``--checkpoint`` (its export measured, the
    dense baseline read from the model)."""
    from .compress.report import report
    if args.packed:
        model = _load_deployed(args.packed)
        recipe = model.meta.get("recipe") or {}
    else:
        model, config, _ = model_from_checkpoint(args.checkpoint)
        recipe = config["recipe"]
    result = report(model, _input_shape(recipe, getattr(args, "input_shape", None)))
    print(result.to_json() if getattr(args, "json", False) else result.table())
    return 0


def cmd_compare(args) -> int:
    """Run :func:`~tinycompress.compare.run_compare` with the parsed flags."""
    import time

    from .compare import run_compare, run_curves
    started = time.perf_counter()
    if getattr(args, "curves", False):
        run_curves(args.epochs, args.seed, args.out, data=args.data, max_steps=args.max_steps,
                   progress=not args.no_progress, quick=args.quick)
        print(f"wrote {os.path.join(args.out, 'curves.json')} and curves.md in {time.perf_counter() - started:.0f} s")
        return 0
    run_compare(args.epochs, args.seed, args.out, data=args.data, max_steps=args.max_steps,
                progress=not args.no_progress, methods=tuple(args.methods), sparsity=args.sparsity,
                energy=args.energy)
    print(f"wrote {os.path.join(args.out, 'compare.json')} and compare.md in {time.perf_counter() - started:.0f} s")
    return 0


def _check_compare(args) -> None:
    """compare's flags, the data and the output folder, before its four trainings (not after them)."""
    if args.epochs < 1:
        raise CLIError(f"--epochs {args.epochs} is not valid: it must be a whole number >= 1")
    if args.max_steps is not None and args.max_steps < 1:
        raise CLIError(f"--max-steps {args.max_steps} is not valid: it must be a whole number >= 1")
    if not 0.9 <= args.sparsity < 1.0:
        raise CLIError(f"--sparsity {args.sparsity} is not valid: it must be in [0.9, 1)")
    if not 0.0 < args.energy <= 1.0:
        raise CLIError(f"--energy {args.energy} is not valid: it must be an energy fraction in (0, 1]")
    if args.seed < 0:
        raise CLIError(f"--seed {args.seed} is not valid: it must be a whole number >= 0")
    if getattr(args, "quick", False) and not getattr(args, "curves", False):
        raise CLIError("--quick makes the --curves sweep small; add --curves or drop it")
    _prepare_out(args.out, resume=True, overwrite=False)      # a folder, writable (its files are replaced)
    args.data = _find_data(args.data)


def _user_errors() -> tuple:
    """Exceptions that mean the user's input, files or run are wrong (one line), not a bug (a traceback)."""
    import zipfile

    from .data.datasets import DatasetError
    from .data.idx import IDXError
    from .serialization import LoadError
    from .train import NonFiniteLossError
    return (CLIError, LoadError, IDXError, DatasetError, NonFiniteLossError, OSError, zipfile.BadZipFile, EOFError)


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    commands = {"train": cmd_train, "eval": cmd_eval, "export": cmd_export, "report": cmd_report,
                "compare": cmd_compare}
    debug = getattr(args, "debug", False) or os.environ.get("TINYCOMPRESS_DEBUG", "") not in ("", "0")
    try:
        if args.command == "compare":
            _check_compare(args)
        elif args.command == "report":                 # a missing or damaged input named, in one line
            if args.packed:
                _load_deployed(args.packed)
            else:
                _load_run_checkpoint(args.checkpoint)
        return commands[args.command](args)
    except KeyboardInterrupt:
        if debug:
            raise
        note = getattr(args, "_interrupted", None)
        print(f"\ntinycompress: interrupted{'; ' + note() if note else ''}", file=sys.stderr)
        return 130
    except _user_errors() as error:
        if debug:
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        if not isinstance(error, CLIError) and getattr(args, "packed", None) and args.packed not in message:
            message = f"{args.packed}: {message}"
        print(f"tinycompress: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
