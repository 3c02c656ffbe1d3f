"""The three compression families: binarized (``binary``), masked/pruned (``masked``,
``prune``) and low-rank (``lowrank``); their deployed forms live in ``deploy``; ``report(model,
input_shape)`` tabulates what any of them stores and computes (``compress/report.py``)."""
from .report import Report, report

__all__ = ["Report", "report"]
