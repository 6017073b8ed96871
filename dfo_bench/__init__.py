"""dfo-bench: honest, reproducible comparisons of gradient-free optimizers on neural networks."""

__version__ = "0.1.0"
