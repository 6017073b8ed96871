"""Tuning: an equal, declared hyper-parameter budget for every optimizer of a suite.

``space`` (search-space ranges, declared by each optimizer next to its ``Params``), ``config``
(the suite's ``tuning:`` block and per-entry ``tune:`` overrides, validated), ``study`` (one
seeded Optuna study per (problem, optimizer entry), resumed from stored runs) and ``run`` (how
``dfo-bench run`` tunes first and then evaluates). This package imports no Optuna at import
time: optimizers import ``space`` to declare their ranges.
"""
