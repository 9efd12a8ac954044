"""Fixtures of the notebook tests: a kernel on this venv's Python, one copy of the scored
home, and the three notebooks executed against it in the order a data scientist would
run them (explore, retrain, then report on the two versions)."""

from __future__ import annotations

import shutil
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
def explored(notebook_runner: NotebookRunner, notebook_home: Path) -> NotebookNode:
    return notebook_runner.run_file("01-explore-world.ipynb", notebook_home)


@pytest.fixture(scope="session")
def retrained(notebook_runner: NotebookRunner, notebook_home: Path,
              explored: NotebookNode) -> NotebookNode:
    """03 run after 01 (which only reads), leaving a second registered version."""
    return notebook_runner.run_file("03-retrain.ipynb", notebook_home)


@pytest.fixture(scope="session")
def reported(notebook_runner: NotebookRunner, notebook_home: Path,
             retrained: NotebookNode) -> NotebookNode:
    """02 run once 03 has registered a second version to compare with."""
    return notebook_runner.run_file("02-model-report.ipynb", notebook_home)
