"""Optimizers: ask/tell gradient-free methods and gradient baselines (see ``base``)."""
