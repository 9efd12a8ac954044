"""Fixtures of the notebook tests: a kernel on this venv's Python, one copy of the scored
home, and the three notebooks executed against it: explore beside retrain, then the report
on the two versions that retrain leaves."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from nbformat import NotebookNode
from notebook_runner import NotebookRunner, write_kernel_spec


@pytest.fixture(scope="session")
def notebook_runner(tmp_path_factory: pytest.TempPathFactory) -> NotebookRunner:
    """Executed notebooks land in ``<pytest tmp>/executed0/`` for a look at their output."""
    return NotebookRunner(write_kernel_spec(tmp_path_factory.mktemp("kernels")),
                          tmp_path_factory.mktemp("bytecode"),
                          tmp_path_factory.mktemp("executed"))


@pytest.fixture(scope="session")
def notebook_home(scored_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the scored home that the notebooks may change (03 retrains and promotes)."""
    target = tmp_path_factory.mktemp("notebooks") / "home"
    shutil.copytree(scored_home, target)
    return target


@pytest.fixture(scope="session")
def executed(notebook_runner: NotebookRunner, notebook_home: Path
             ) -> dict[str, NotebookNode | Exception]:
    """The three notebooks executed against the home: 01 (which only reads) beside 03 then
    02 (which reports on the version 03 registers), each kept with its own failure."""
    def run(name: str) -> NotebookNode | Exception:
        try:
            return notebook_runner.run_file(f"{name}.ipynb", notebook_home)
        except Exception as error:  # noqa: BLE001 - raised again by the notebook's fixture
            return error

    with ThreadPoolExecutor(max_workers=1) as pool:
        explored = pool.submit(run, "01-explore-world")
        retrained = run("03-retrain")
        reported = run("02-model-report")
        return {"01-explore-world": explored.result(), "03-retrain": retrained,
                "02-model-report": reported}


def _notebook(executed: dict[str, NotebookNode | Exception], name: str) -> NotebookNode:
    outcome = executed[name]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


@pytest.fixture(scope="session")
def explored(executed: dict[str, NotebookNode | Exception]) -> NotebookNode:
    return _notebook(executed, "01-explore-world")


@pytest.fixture(scope="session")
def retrained(executed: dict[str, NotebookNode | Exception]) -> NotebookNode:
    """03 leaves a second registered version."""
    return _notebook(executed, "03-retrain")


@pytest.fixture(scope="session")
def reported(executed: dict[str, NotebookNode | Exception]) -> NotebookNode:
    """02 run once 03 has registered a second version to compare with."""
    return _notebook(executed, "02-model-report")
