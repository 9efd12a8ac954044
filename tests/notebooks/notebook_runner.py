"""Executing notebooks with nbclient on a kernel that runs this venv's Python."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import nbformat
from nbformat import NotebookNode

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL_NAME = "python3"


class NotebookRunner:
    """Executes notebooks with nbclient on a kernel running ``sys.executable`` (the venv's
    Python, whatever kernels the machine has installed) against a given home."""

    def __init__(self, kernels_dir: Path, bytecode_dir: Path,
                 executed_dir: Path | None = None) -> None:
        self.kernels_dir = kernels_dir
        self.bytecode_dir = bytecode_dir
        self.executed_dir = executed_dir

    def kernel_env(self, home: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SPONSORWATCH_") and k != "MLFLOW_TRACKING_URI"}
        # Kernels share one bytecode cache outside the source tree, so only the first one
        # compiles mlflow when the environment forbids writing __pycache__ next to it.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update({"SPONSORWATCH_HOME": str(home), "MPLBACKEND": "Agg",
                    "PYTHONPYCACHEPREFIX": str(self.bytecode_dir)})
        return env

    def run(self, notebook: NotebookNode, home: Path) -> NotebookNode:
        """Execute ``notebook`` in place from the notebooks folder; a failing cell raises
        ``nbclient.exceptions.CellExecutionError`` with its traceback."""
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager
        from nbclient import NotebookClient

        specs = KernelSpecManager(kernel_dirs=[str(self.kernels_dir)],
                                  ensure_native_kernel=False)
        manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
        client = NotebookClient(notebook, km=manager, kernel_name=KERNEL_NAME, timeout=600,
                                resources={"metadata": {"path": str(NOTEBOOKS)}})
        client.execute(env=self.kernel_env(home))
        return notebook

    def run_file(self, name: str, home: Path) -> NotebookNode:
        """Execute a notebook of the notebooks folder; with ``executed_dir`` the executed
        copy (outputs, or the traceback of the failing cell) is written there to look at."""
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        try:
            return self.run(notebook, home)
        finally:
            if self.executed_dir is not None:
                self.executed_dir.mkdir(parents=True, exist_ok=True)
                nbformat.write(notebook, self.executed_dir / name)


def write_kernel_spec(folder: Path) -> Path:
    """A kernel spec named ``python3`` in ``folder`` that starts ``sys.executable``."""
    (folder / KERNEL_NAME).mkdir(parents=True, exist_ok=True)
    (folder / KERNEL_NAME / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (sponsorwatch venv)", "language": "python"}))
    return folder


def load_notebook_glue() -> ModuleType:
    """The notebooks' glue module, imported from its file as the notebooks import it."""
    spec = importlib.util.spec_from_file_location("notebook_glue", NOTEBOOKS / "notebook_glue.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
