"""Tuning: an equal, declared hyper-parameter budget for every optimizer of a suite.

``space`` (search-space ranges, declared by each optimizer next to its ``Params``), ``config``
(the suite's ``tuning:`` block and per-entry ``tune:`` overrides, validated) and ``study`` (one
seeded Optuna study per (problem, optimizer entry), resumed from stored runs). Running the
trials and keeping their records is the executors' and the store's
(``dfo_bench.executors.tuning_rounds``): this package imports neither, nor the suite. It imports
no Optuna at import time: optimizers import ``space`` to declare their ranges.
"""
