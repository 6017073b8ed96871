"""Tuning: an equal, declared hyper-parameter budget for every optimizer of a suite.

``config`` (the suite's ``tuning:`` block and per-entry ``tune:`` overrides of the
``tuning_ranges`` each optimizer declares next to its ``Params``, validated) and ``study`` (one
seeded Optuna study per (problem, optimizer entry), resumed from stored runs). Tuning sits above
the optimizers: it imports them, they import nothing of it (their ranges are ``dfo_bench.ranges``).
Running the trials and keeping their records is the executors' and the store's
(``dfo_bench.executors.tuning_rounds``): this package imports neither, nor the suite.
"""
