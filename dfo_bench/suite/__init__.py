"""Suites: YAML validated with pydantic, expanded into independent run specs.

Every error names the file, the field and what is allowed, in one line, before anything is
written or run. The modules, in the order a suite goes through them:

- ``document``: reading the YAML file (safe, each key once, bounded in size, nesting and alias
  expansion), and the one-line form of a validation error;
- ``schema``: the models of the file's blocks (components, budget, seeds, ``tuning:``), with
  ``executor`` for the ``executor:`` block (each kind's fields, Slurm options);
- ``expansion``: parameters validated against each class's ``Params``, labels (parts of file
  names: checked as such), run specs with their settings resolved (``load_suite``);
- ``pairing``: whether each problem can give what each optimizer entry needs;
- ``studies``: with ``tuning:``, a ``StudyPlan`` per (problem, optimizer entry).
"""

from dfo_bench.spec import RunSpec
from dfo_bench.suite.document import format_error, read_yaml
from dfo_bench.suite.executor import ExecutorConfig
from dfo_bench.suite.expansion import Suite, label, load_suite, suite_from_data
from dfo_bench.suite.schema import SuiteConfig

__all__ = [
    "ExecutorConfig",
    "RunSpec",
    "Suite",
    "SuiteConfig",
    "format_error",
    "label",
    "load_suite",
    "read_yaml",
    "suite_from_data",
]
