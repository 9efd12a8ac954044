"""The notebooks: reviewable as text (each .ipynb agrees with its py:percent twin and holds
no outputs), and executed end to end against one small scored home, charts rendered."""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from nbformat import NotebookNode
from notebook_runner import NOTEBOOKS, NotebookRunner, load_notebook_glue

from sponsorwatch.settings import Settings

NAMES = ("01-explore-world", "02-model-report", "03-retrain")


def home_settings(home: Path) -> Settings:
    """Settings of ``home`` with its own registry named: an MLFLOW_TRACKING_URI left in this
    process's environment by other tests must not redirect them."""
    return Settings(home=home, mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}")


def images(notebook: NotebookNode) -> int:
    return sum("image/png" in output.get("data", {})
               for cell in notebook.cells for output in cell.get("outputs", []))


def text_of(notebook: NotebookNode) -> str:
    """Everything the notebook printed or displayed as text or Markdown."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            data = output.get("data", {})
            parts += [data.get("text/plain", ""), data.get("text/markdown", "")]
    return "\n".join(parts)


def cells(notebook: NotebookNode) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in notebook.cells]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_agrees_with_its_text_twin(name: str) -> None:
    twin = jupytext.read(NOTEBOOKS / f"{name}.py")
    stored = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert cells(stored) == cells(twin), (
        f"{name}.ipynb and {name}.py differ: run `uv run jupytext --sync notebooks/{name}.py`")


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_no_outputs(name: str) -> None:
    stored = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    dirty = [i for i, c in enumerate(stored.cells) if c.cell_type == "code"
             and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{name}.ipynb has outputs in cells {dirty}; clear them before committing"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_takes_a_parameters_cell(name: str) -> None:
    stored = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert any("parameters" in c.metadata.get("tags", []) for c in stored.cells)


def test_the_kernel_is_this_python_and_a_failing_cell_fails(
        notebook_runner: NotebookRunner, tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"),
        nbformat.v4.new_code_cell("raise RuntimeError('this cell fails on purpose')"),
        nbformat.v4.new_code_cell("print('never reached')"),
    ])
    with pytest.raises(CellExecutionError, match="this cell fails on purpose"):
        notebook_runner.run(notebook, tmp_path)
    assert notebook.cells[0].outputs[0]["text"].strip() == sys.executable
    assert not notebook.cells[2].outputs


def test_the_notebooks_take_the_scored_home_as_prepared(notebook_home: Path) -> None:
    """Otherwise they would refuse it (and, unset, build their own world)."""
    glue = load_notebook_glue()
    assert glue.is_prepared(home_settings(notebook_home))
    assert not glue.is_prepared(home_settings(notebook_home / "nothing-here"))


def test_a_home_named_but_never_prepared_is_refused(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    glue = load_notebook_glue()
    monkeypatch.setenv("SPONSORWATCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="not a prepared home"):
        glue.notebook_settings(sponsors=400, seed=1)


def test_unset_home_uses_the_default_once_prepared(notebook_home: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """With SPONSORWATCH_HOME unset the notebooks read their default home, and build
    nothing when it is already prepared."""
    glue = load_notebook_glue()
    monkeypatch.delenv("SPONSORWATCH_HOME", raising=False)
    monkeypatch.setattr(glue, "DEFAULT_HOME", notebook_home)
    monkeypatch.setattr("pipelines.run.run_demo", _refuse_to_build)
    assert glue.notebook_settings(sponsors=400, seed=1).home == notebook_home


def _refuse_to_build(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("a prepared default home was built again")


def test_explore_world_runs_and_draws(explored: NotebookNode, notebook_home: Path) -> None:
    text = text_of(explored)
    assert f"home:        {notebook_home}" in text
    assert "Calibration of the simulated world" in text
    assert "strongest traces" in text  # the truth section ran on the simulated world
    # calibration, inspections, typology traces, feature distributions
    assert images(explored) >= 4


def test_retrain_registers_a_challenger_and_runs_the_gates(retrained: NotebookNode,
                                                           notebook_home: Path) -> None:
    from training.registry.loading import load_model
    from training.registry.tracking import CHALLENGER

    text = text_of(retrained)
    assert "registered sponsor-risk v2 as challenger" in text
    assert "beats_champion" in text  # the gate verdicts were shown
    assert "promoted version 2" in text or "refused to promote version 2" in text
    _, challenger = load_model(home_settings(notebook_home), CHALLENGER)
    assert challenger["version"] == "2"
    assert challenger["tags"].get("promotion_gates")  # the gates' verdicts were recorded
    assert images(retrained) >= 1  # the runs compared


def test_model_report_runs_and_draws(reported: NotebookNode) -> None:
    text = text_of(reported)
    assert "sponsor-risk v" in text
    assert "crude_rule" in text and "logistic" in text  # the baselines beside the model
    assert "comparing v" in text and "rank correlation" in text  # two versions compared
    assert "reasons" in text
    assert "# Fairness audit (top" in text and "## Proxy check" in text  # the run's audit
    # precision at k, calibration, precision curve, importance, SHAP, reasons, fairness,
    # comparison
    assert images(reported) >= 8
