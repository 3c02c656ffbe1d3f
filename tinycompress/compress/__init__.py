"""The three compression families: binarized (``binary``), masked/pruned (``masked``,
``prune``) and low-rank (``lowrank``); their deployed forms live in ``deploy``."""
