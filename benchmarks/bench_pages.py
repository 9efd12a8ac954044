"""Server time of the analyst pages on a 12,000-sponsor world, against the JSON API.

    uv run python benchmarks/bench_pages.py                         # builds the world once
    uv run python benchmarks/bench_pages.py --home /path/to/home    # reuse a scored home
    uv run python benchmarks/bench_pages.py --sponsors 400 --repeat 10   # quick look

Without ``--home`` the world is built under ``benchmarks/.cache/pages-<sponsors>`` (reused
by later runs): simulated, ingested (polars checks, no GX), quarterly feature snapshots
from 2022, a real model trained and promoted, the last three snapshots scored.

The app runs in-process (``TestClient``: ASGI calls, no sockets), so a request's wall time
is the server's time plus a thin client. Each case is requested ``--repeat`` times after
warm-up; 1,000 reviews are stored first so the "reviewed" filter has work to do. The peer
is the API's own ranked list (``GET /v1/sponsors``) with the same filter in the same run.
The acceptance bound: the filtered list page at p95 under 300 ms.
Writes benchmarks/results/pages.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "pages.json"
BOUND_MS = 300.0
SEED = 20260701


def build_world(home: Path, sponsors: int, seed: int) -> dict[str, float]:
    """Every stage from a simulated world to scored snapshots; seconds per stage."""
    from pipelines.run import (
        SCORED_SNAPSHOTS,
        WORLD_END,
        features_stage,
        ingest_stage,
        promote_stage,
        score_stage,
        simulate_stage,
        snapshot_dates,
        train_stage,
    )
    from sponsorwatch.settings import Settings

    settings = Settings(home=home)
    timings: dict[str, float] = {}

    def timed(name: str, step: Any) -> Any:
        started = time.perf_counter()
        out = step()
        timings[name] = round(time.perf_counter() - started, 1)
        print(f"  {name}: {timings[name]} s", flush=True)
        return out

    source = timed("simulate", lambda: simulate_stage(settings, sponsors, seed))
    timed("ingest", lambda: ingest_stage(settings, source, run_gx=False))
    dates = snapshot_dates(first=date(2022, 1, 1))
    timed("features", lambda: features_stage(settings, dates))
    timed("train", lambda: train_stage(settings, WORLD_END, plots=False))
    timed("promote", lambda: promote_stage(settings))
    timed("score", lambda: [score_stage(settings, d) for d in dates[-SCORED_SNAPSHOTS:]])
    return timings


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2),
            "max_ms": round(ordered[-1], 2), "n": len(ordered)}


def measure(client: Any, path: str, repeat: int, headers: dict[str, str] | None = None,
            warmup: int = 3) -> dict[str, Any]:
    """Wall time of ``repeat`` requests (after ``warmup``), and the handler's own time
    from the Server-Timing header where the page sends one."""
    for _ in range(warmup):
        assert client.get(path, headers=headers).status_code == 200, path
    walls, handler = [], []
    size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        walls.append(1000 * (time.perf_counter() - started))
        assert response.status_code == 200, (path, response.status_code)
        size = len(response.content)
        timing = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
        if timing:
            handler.append(float(timing.group(1)))
    out: dict[str, Any] = {"path": path, "bytes": size, **_stats(walls)}
    if handler:
        out["handler_median_ms"] = round(statistics.median(handler), 2)
    return out


def run(home: Path, repeat: int) -> dict[str, Any]:
    import polars as pl
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from serving.app import create_app
    from serving.keys import issue_key
    from serving.reviews import add_review
    from sponsorwatch.settings import Settings

    # A fresh service database per run, so reviews and audit rows of earlier runs do not
    # pile up in the reused home.
    scratch = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    settings = Settings(home=home, database_url=f"sqlite:///{scratch / 'service.db'}")
    started = time.perf_counter()
    with TestClient(create_app(settings)) as client:
        startup = time.perf_counter() - started
        snapshot = client.app.state.serving.snapshot  # type: ignore[attr-defined]
        assert snapshot is not None, client.app.state.serving.problems  # type: ignore[attr-defined]
        frame = snapshot.frame
        with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
            secret = settings.secret_key.get_secret_value()
            api_key = issue_key(session, secret, "analyst").api_key
            reviewed = frame["sponsor_id"].sample(min(1000, frame.height), seed=1).to_list()
            for i, sponsor_id in enumerate(reviewed):
                add_review(session, sponsor_id, "inspect" if i % 3 else "dismiss", "bench",
                           "bench", date(2026, 1, 5), snapshot.model_version, 0.5,
                           snapshot.as_of)
        form = client.get("/sign-in").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        client.post("/sign-in", data={"api_key": api_key, "csrf": csrf})

        sector = frame["sector"].drop_nulls().mode().sort()[0]
        name_part = frame["name"][frame.height // 2].split()[0][:4].lower()
        sponsor_ids = frame["sponsor_id"].gather(
            list(range(0, frame.height, max(1, frame.height // 20)))[:20]).to_list()
        filter_query = "band=elevated&min_score=0.02"
        first = time.perf_counter()
        client.get("/sponsors")  # the view of the snapshot is built on first use
        first_ms = 1000 * (time.perf_counter() - first)
        cases = {
            "list_filtered": measure(client, f"/sponsors?{filter_query}", repeat),
            "list_default": measure(client, "/sponsors", repeat),
            "list_search": measure(client, f"/sponsors?q={name_part}", repeat),
            "list_sector_postcode_sorted": measure(
                client, f"/sponsors?sector={sector}&postcode=1&sort=name&order=desc"
                        "&page_size=200", repeat),
            "list_not_reviewed_deep_page": measure(client, "/sponsors?reviewed=no&page=100",
                                                   repeat),
            "api_list_filtered": measure(client, f"/v1/sponsors?{filter_query}", repeat,
                                         headers={"X-API-Key": api_key}),
        }
        sponsor_walls = []
        for sponsor_id in sponsor_ids:
            t0 = time.perf_counter()
            assert client.get(f"/sponsors/{sponsor_id}").status_code == 200
            sponsor_walls.append(1000 * (time.perf_counter() - t0))
        cases["sponsor_page"] = {"path": "/sponsors/{id} (20 sponsors across the ranking)",
                                 **_stats(sponsor_walls)}
        cases["export_csv_all"] = measure(client, "/sponsors/export.csv", 3, warmup=1)
        cases["export_xlsx_all"] = measure(client, "/sponsors/export.xlsx", 3, warmup=1)
        client.app.state.audit.flush()  # type: ignore[attr-defined]
    shutil.rmtree(scratch, ignore_errors=True)

    filtered = cases["list_filtered"]
    api = cases["api_list_filtered"]
    return {
        "world": {"sponsors_ranked": frame.height, "as_of": str(snapshot.as_of),
                  "model_version": snapshot.model_version, "reviews_stored": len(reviewed),
                  "home": str(home)},
        "startup_s": round(startup, 2),
        "first_list_request_ms": round(first_ms, 1),
        "cases": cases,
        "acceptance": {"case": "list_filtered", "bound_ms": BOUND_MS,
                       "p95_ms": filtered["p95_ms"],
                       "passed": filtered["p95_ms"] < BOUND_MS},
        "ratios": {
            "list_filtered_page_vs_api_median": round(filtered["median_ms"]
                                                      / api["median_ms"], 2),
            "peer": "GET /v1/sponsors with the same filter (JSON, same app, same run)"},
        "polars": pl.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="a scored home to reuse")
    parser.add_argument("--sponsors", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    home = args.home or ROOT / "benchmarks" / ".cache" / f"pages-{args.sponsors}"
    build: dict[str, float] | None = None
    if not any((home / "scores").glob("as_of=*/scores.parquet")):
        if args.home:
            sys.exit(f"{home}: no score snapshot; run without --home to build a world")
        print(f"building a {args.sponsors}-sponsor world in {home} (once)", flush=True)
        build = build_world(home, args.sponsors, args.seed)
    result = run(home, args.repeat)
    result["build_s"] = build
    result["command"] = "uv run python benchmarks/bench_pages.py " + " ".join(sys.argv[1:])
    result["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                         "cpus": os.cpu_count(),
                         "load_average_1m_at_end": round(os.getloadavg()[0], 1),
                         "note": "shared machine: other developers' jobs ran at the same time"}
    from sponsorwatch.storage import write_json_atomic

    write_json_atomic(result, args.out)
    for name, case in result["cases"].items():
        print(f"{name:32s} median {case['median_ms']:8.1f} ms  p95 {case['p95_ms']:8.1f} ms")
    print(f"acceptance (filtered list p95 < {BOUND_MS:.0f} ms): "
          f"{'passed' if result['acceptance']['passed'] else 'FAILED'}; "
          f"page/API ratio {result['ratios']['list_filtered_page_vs_api_median']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
