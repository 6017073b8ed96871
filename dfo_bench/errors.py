"""Errors a user can act on: each carries one line naming where the problem is."""


def one_line(message: str) -> str:
    """``message`` with each character that is not printable (a newline, a tab, NUL, a Unicode line
    separator: from a key or a label in a suite, say) written as its escape, so it stays one line."""
    return message if message.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


class DfoBenchError(Exception):
    """Base class of every error the CLI turns into a one-line message and exit status 2."""

    def __init__(self, message: str = "") -> None:
        super().__init__(one_line(message))


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
