"""The plugin passes every check dfo-bench's own problems pass."""

from dfo_bench.conformance import ProblemTestCase


class TestDiabetesMLP(ProblemTestCase):
    problem = "diabetes-mlp"  # the entry-point name
    params = {"hidden": 8}
