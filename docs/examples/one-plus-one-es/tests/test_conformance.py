"""The plugin passes every check dfo-bench's own optimizers pass."""

from dfo_bench.conformance import OptimizerTestCase


class TestOnePlusOneES(OptimizerTestCase):
    optimizer = "one-plus-one-es"  # the entry-point name
