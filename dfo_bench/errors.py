"""Errors a user can act on: each carries one line naming where the problem is."""


class DfoBenchError(Exception):
    """Base class of every error the CLI turns into a one-line message and exit status 2."""


class ConfigError(DfoBenchError):
    """A suite, a parameter or a data folder is not what is allowed."""


class UnknownNameError(ConfigError):
    """A problem or optimizer name is not in its registry."""


class PluginError(DfoBenchError):
    """An entry-point plugin failed to load; other names keep working."""


class BudgetExceeded(DfoBenchError):
    """A charge would overspend the run's budget; raised before the work is done."""


class StoreError(DfoBenchError):
    """A name cannot be a file of the results folder (it would reach outside it, or is too long),
    or the folder holds damaged files where none are allowed (``--strict``)."""
