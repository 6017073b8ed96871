"""Tuning: an equal, declared hyper-parameter budget for every optimizer of a suite.

``config`` (the suite's ``tuning:`` block and per-entry ``tune:`` overrides of the
``tuning_ranges`` each optimizer declares next to its ``Params``, validated), ``study`` (one
seeded Optuna study per (problem, optimizer entry), resumed from stored runs) and ``run`` (how
``dfo-bench run`` tunes first and then evaluates). Tuning sits above the optimizers: it imports
them, they import nothing of it (their ranges are ``dfo_bench.ranges``).
"""
