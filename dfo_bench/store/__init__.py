"""The results folder, and the one package that knows its layout.

Everything a suite leaves there (run files, running markers, suite copies, study records) is
written and read through ``ResultStore``, as the typed records of ``records``; a run file's
columns are ``rows.to_frame``'s; running markers are the claims of ``claims``. Nothing else
builds a path in the folder or parses a file name.
"""

from dfo_bench.store.claims import STALE_AFTER, Claim
from dfo_bench.store.folder import ResultStore
from dfo_bench.store.records import (
    EVALUATION,
    TUNING,
    ChosenTrial,
    DamagedFile,
    ExpectedRuns,
    ExpectedStudy,
    PlanGroup,
    PlanRecord,
    RunningMarker,
    StoredRun,
    StudyRecord,
    StudyTrial,
)
from dfo_bench.store.rows import git_commit, to_frame

__all__ = [
    "EVALUATION",
    "STALE_AFTER",
    "TUNING",
    "ChosenTrial",
    "Claim",
    "DamagedFile",
    "ExpectedRuns",
    "ExpectedStudy",
    "PlanGroup",
    "PlanRecord",
    "ResultStore",
    "RunningMarker",
    "StoredRun",
    "StudyRecord",
    "StudyTrial",
    "git_commit",
    "to_frame",
]
