"""Never without a warehouse: the warehouse path is a symlink to a version folder that
ingest replaces atomically. An ingest killed at any step leaves a warehouse that reads
fine (the previous one, or the new one once swapped) and the next ingest succeeds; a
second ingest while one runs stops at once, naming the lock file and the pid holding it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ingest_extracts import clean_rows, sponsor, write_extract
from typer.testing import CliRunner

from cli.main import app
from pipelines.ingest.errors import WarehouseBusy
from pipelines.ingest.lock import lock_path, warehouse_lock
from pipelines.ingest.pipeline import CRASH_STEPS, ingest
from sponsorwatch.contract import TABLES
from sponsorwatch.storage import CRASH_ENV, read_manifest, scan_warehouse, versions_dir

ROOT = Path(__file__).resolve().parents[2]
INGEST = ("import sys\nfrom pathlib import Path\nfrom pipelines.ingest.pipeline import ingest\n"
          "ingest(Path(sys.argv[1]), Path(sys.argv[2]), run_gx=False)\n")


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("extracts")
    newer = clean_rows()
    newer["sponsors"].append(sponsor("87654321"))
    return (write_extract(root / "first", clean_rows()),
            write_extract(root / "second", newer))


def _reads_whole(warehouse: Path) -> str:
    """The warehouse opens and every table reads; returns the extract it holds."""
    tables = {name: frame.collect() for name, frame in scan_warehouse(warehouse).items()}
    assert set(tables) == set(TABLES)
    sponsors = tables["sponsors"]["sponsor_id"].unique().len()
    manifest = read_manifest(warehouse)
    assert manifest["tables"]["sponsors"]["warehouse_rows"] == sponsors
    return str(manifest["extract"])


def _leftovers(warehouse: Path) -> list[str]:
    home = warehouse.parent
    return sorted([p.name for p in home.iterdir() if p.name.startswith(".")]
                  + [p.name for p in versions_dir(warehouse).iterdir()
                     if not p.name.isdigit()])


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_an_ingest_killed_at_any_step_leaves_a_warehouse_and_the_next_one_succeeds(
        step: str, tmp_path: Path, extracts: tuple[Path, Path]) -> None:
    first, second = extracts
    warehouse = tmp_path / "home" / "warehouse"
    ingest(first, warehouse, run_gx=False)
    killed = subprocess.run([sys.executable, "-c", INGEST, str(second), str(warehouse)],
                            cwd=ROOT, env={**os.environ, CRASH_ENV: step},
                            capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    swapped = CRASH_STEPS.index(step) >= CRASH_STEPS.index("swapped")
    assert _reads_whole(warehouse) == ("second" if swapped else "first")
    with warehouse_lock(warehouse):  # the killed holder released the lock
        pass
    result = ingest(second, warehouse, run_gx=False)
    assert _reads_whole(warehouse) == "second"
    assert result.manifest["tables"]["sponsors"]["warehouse_rows"] == 4
    # what the killed ingest left is gone; the previous version is kept, older ones not
    assert _leftovers(warehouse) == []
    assert len(list(versions_dir(warehouse).iterdir())) == 2
    assert warehouse.is_symlink() and not Path(os.readlink(warehouse)).is_absolute()


def test_versions_are_kept_two_at_a_time_and_the_link_is_relative(
        tmp_path: Path, extracts: tuple[Path, Path]) -> None:
    first, second = extracts
    warehouse = tmp_path / "home" / "warehouse"
    for extract in (first, second, first):
        ingest(extract, warehouse, run_gx=False)
    assert os.readlink(warehouse) == "warehouse.d/000003"
    assert sorted(p.name for p in versions_dir(warehouse).iterdir()) == ["000002", "000003"]
    # a moved home still opens: the link is relative
    moved = tmp_path / "moved"
    (tmp_path / "home").rename(moved)
    assert _reads_whole(moved / "warehouse") == "first"


@pytest.mark.parametrize("plain_name", ["warehouse", ".warehouse.old"])
def test_a_plain_warehouse_folder_of_an_earlier_release_is_adopted(
        plain_name: str, tmp_path: Path, extracts: tuple[Path, Path]) -> None:
    """A plain folder at the warehouse path (as ingest wrote it before versions, or a
    copied home), or only the copy aside that a killed folder swap of an earlier release
    left (``.warehouse.old``), becomes the first version; nothing is lost."""
    first, second = extracts
    warehouse = tmp_path / "home" / "warehouse"
    ingest(first, warehouse, run_gx=False)
    plain = warehouse.resolve()
    warehouse.unlink()
    plain.rename(warehouse.with_name(plain_name))
    versions_dir(warehouse).rmdir()
    if plain_name == "warehouse":
        assert _reads_whole(warehouse) == "first"
    ingest(second, warehouse, run_gx=False)
    assert warehouse.is_symlink() and _reads_whole(warehouse) == "second"
    assert [m["extract"] for m in read_manifest(warehouse)["history"]] == ["first"]
    assert _leftovers(warehouse) == []


HOLD_THE_LOCK = (
    "import sys, time\nfrom pathlib import Path\nfrom pipelines.ingest.pipeline import ingest\n"
    "def pause(step):\n"
    "    if step == 'checking payroll':\n"
    "        print('running', flush=True); time.sleep(120)\n"
    "ingest(Path(sys.argv[1]), Path(sys.argv[2]), run_gx=False, on_step=pause)\n")


def test_a_second_ingest_while_one_runs_stops_at_once_naming_the_lock_and_its_holder(
        tmp_path: Path, extracts: tuple[Path, Path]) -> None:
    first, second = extracts
    warehouse = tmp_path / "home" / "warehouse"
    ingest(first, warehouse, run_gx=False)
    before = read_manifest(warehouse)
    running = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(second),
                                str(warehouse)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert running.stdout is not None and running.stdout.readline() == "running\n"
        with pytest.raises(WarehouseBusy) as caught:
            ingest(second, warehouse, run_gx=False)
        message = str(caught.value)
        assert str(lock_path(warehouse)) in message and f"pid {running.pid}" in message
        cli = CliRunner().invoke(app, ["--home", str(warehouse.parent), "ingest",
                                       str(second), "--skip-gx"])
        assert cli.exit_code == 2 and f"pid {running.pid}" in cli.stderr
        assert "warehouse.lock" in cli.stderr and "Traceback" not in cli.output
        assert read_manifest(warehouse) == before
    finally:
        running.kill()  # as a crash would: the lock goes with the process
        running.wait()
    assert ingest(second, warehouse, run_gx=False).manifest["extract"] == "second"


WITH_GX = (
    "import sys\nfrom pathlib import Path\nimport pipelines.ingest.gx_worker as gx\n"
    "from pipelines.ingest.pipeline import ingest\n"
    "started = gx.GxWorker.__enter__\n"
    "def enter(self):\n"
    "    started(self); print(self.pid, flush=True); return self\n"
    "gx.GxWorker.__enter__ = enter\n"
    "if __name__ == '__main__':\n"
    "    ingest(Path(sys.argv[1]), Path(sys.argv[2]), run_gx=True)\n")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie nobody reaps has ended all the same


def test_a_killed_ingest_leaves_no_great_expectations_worker_behind(
        tmp_path: Path, extracts: tuple[Path, Path]) -> None:
    import time

    script, out = tmp_path / "ingest_with_gx.py", tmp_path / "out.txt"
    script.write_text(WITH_GX, encoding="utf-8")
    with out.open("w") as stdout:  # a file: a pipe would stay open while the worker lives
        killed = subprocess.run([sys.executable, str(script), str(extracts[0]),
                                 str(tmp_path / "warehouse")], cwd=ROOT, stdout=stdout,
                                env={**os.environ, CRASH_ENV: "checked"})
    assert killed.returncode == -signal.SIGKILL
    worker = int(out.read_text().split()[0])
    deadline = time.monotonic() + 30
    while not _gone(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not _gone(worker):
        os.kill(worker, signal.SIGKILL)
        pytest.fail(f"the worker {worker} of the killed ingest was still running")
    assert not (tmp_path / "warehouse").exists()
