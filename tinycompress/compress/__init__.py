"""The compression families: binarized (``binary``), masked/pruned (``masked``, ``prune``), low-rank
(``lowrank``) and k-bit quantized (``quant``: QAT and post-training); distillation for any of them
(``distill``); their deployed forms live in ``deploy``; ``report(model,
input_shape)`` tabulates what any of them stores and computes (``compress/report.py``)."""
from .report import Report, report

__all__ = ["Report", "report"]
