# %% [markdown]
# # dfo-bench from Python
#
# Build a suite in Python, run it, load the results as a tidy DataFrame and build the report.
# Plain Python with `# %%` cells: open it in Jupyter (jupytext) or VS Code, or run it with
# `python docs/examples/notebook.py`. CI runs it (tests/test_api.py).

# %%
from pathlib import Path

from dfo_bench import api

OUT = Path("results/notebook-demo")

# %% [markdown]
# A suite is the same data as a suite file: a dict here (`api.suite("suites/x.yaml")` reads a
# file). It is validated and expanded exactly as `dfo-bench run` does it; a mistake raises one
# line naming the field and what is allowed.

# %%
suite = api.suite(
    {
        "name": "notebook-demo",
        "problems": ["digits-mlp", {"name": "sphere", "params": {"dim": 20}}],
        "optimizers": ["random-search", {"name": "de", "params": {"popsize": 16}}],
        "seeds": [0, 1, 2],
        "budget": {"evaluations": 400},
        "executor": "sequential",
    }
)
print(f"{len(suite.runs)} runs, e.g. {suite.runs[0].run_id}")

# %% [markdown]
# The same suite from typed objects: the same runs, the same run ids.

# %%
typed = api.suite(
    api.SuiteConfig(
        name="notebook-demo",
        problems=[api.ProblemConfig(name="digits-mlp"), api.ProblemConfig(name="sphere", params={"dim": 20})],
        optimizers=[api.OptimizerConfig(name="random-search"), api.OptimizerConfig(name="de", params={"popsize": 16})],
        seeds=[0, 1, 2],
        budget=api.SuiteBudget(evaluations=400),
        executor="sequential",
    )
)
assert [r.run_id for r in typed.runs] == [r.run_id for r in suite.runs]

# %% [markdown]
# Run it: the same store, resume and executors as the CLI. Runs already stored are skipped, so
# running this cell again does nothing new; in a notebook the progress bar is a widget.

# %%
outcome = api.run(suite, OUT)
print(f"{outcome.ok} ok, {len(outcome.failed)} failed, in {outcome.out}")

# %% [markdown]
# The stored results as a tidy DataFrame: one row per run and checkpoint (the columns:
# docs/results-schema.md).

# %%
frame = api.results(OUT)
final = frame[frame["checkpoint"] == frame.groupby("run_id")["checkpoint"].transform("max")]
print(final.groupby(["problem_label", "optimizer_label"])[["final_train_loss", "final_test_loss"]].mean())

# %% [markdown]
# The report, built from the stored files alone (Markdown here; HTML too by default).

# %%
index = api.report(OUT, Path("reports/notebook-demo"), formats=["markdown"])
print(f"report: {index}")
