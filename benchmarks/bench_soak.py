"""A soak of mixed roles against the real service, then ``sponsorwatch audit verify``.

    uv run python benchmarks/bench_soak.py [--home HOME] [--sponsors N] [--duration S]
                                           [--threads-per-role T]

The service runs as uvicorn in its own process on 127.0.0.1 (one worker), on a copy of HOME
(without ``--home`` a small world is built first, ``pipelines.run.run_demo`` without GX and
plots). Then for ``--duration`` seconds (default 300) ``T`` threads per role (default 2) call
the API as that role would: a case system scores sponsors by id and reads the model; an
analyst pages and filters the ranking, opens sponsors, records reviews and outcomes and reads
them back; a lead and the admin do their own work (cases, keys issued and revoked); every
role also tries, now and then, a route of another role (it must answer 403). Afterwards the
service is stopped (its audit writer flushed) and ``sponsorwatch audit verify`` checks the
hash chain of the audit trail.

Fails (exit 1) on any 5xx, any unexpected status, a refused call that was not 403, or a
verify that fails; and when ``audit verify`` does not exist, saying so. Results go to
benchmarks/results/soak.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from bench_serve import ensure_home, free_port, wait_ready  # same directory: a script's path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "soak.json"
OK = frozenset({200, 201, 204})

#: One call: (method, path, json body or None, statuses that are fine for it).
Call = tuple[str, str, Any, frozenset[int]]


def sponsorwatch(home: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = Path(sys.executable).parent / "sponsorwatch"
    return subprocess.run([str(command), "--home", str(home), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def has_audit_verify(home: Path, env: dict[str, str]) -> bool:
    result = sponsorwatch(home, "audit", "--help", env=env)
    return result.returncode == 0 and "verify" in result.stdout


def issue_keys(settings: Any) -> dict[str, str]:
    from sqlalchemy.orm import Session

    from serving.db import create_schema, make_engine
    from serving.keys import Role, issue_key

    engine = make_engine(settings.service_database_url)
    create_schema(engine)
    with Session(engine) as session:
        keys = {role.value: issue_key(session, settings.secret_key.get_secret_value(), role,
                                      "soak").api_key for role in Role}
    engine.dispose()
    return keys


class Worker(threading.Thread):
    """One client of one role, calling until ``stop`` is set."""

    def __init__(self, role: str, key: str, base: str, sponsors: list[str], seed: int,
                 stop: threading.Event) -> None:
        super().__init__(name=f"soak-{role}-{seed}", daemon=True)
        self.role, self.base, self.sponsors, self.stop = role, base, sponsors, stop
        self.client = httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60)
        self.rng = random.Random(seed)
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.problems: list[str] = []
        self.reviews: list[str] = []

    def sponsor(self) -> str:
        return self.rng.choice(self.sponsors)

    def plan(self) -> Callable[[], Call]:
        return {"case-system": self.case_system, "analyst": self.analyst,
                "lead": self.lead, "admin": self.admin}[self.role]

    def case_system(self) -> Call:
        pick = self.rng.random()
        if pick < 0.75:
            ids = self.rng.sample(self.sponsors, self.rng.randint(1, 20))
            return "POST", "/v1/scores", {"sponsor_ids": ids}, OK
        if pick < 0.85:
            return "GET", "/v1/model", None, OK
        if pick < 0.93:
            return "GET", "/v1/sponsors", None, frozenset({403})  # the analysts' ranking
        return "GET", "/v1/admin/keys", None, frozenset({403})

    def analyst(self) -> Call:
        pick = self.rng.random()
        if pick < 0.35:
            band = self.rng.choice(["", "&band=high", "&band=elevated"])
            return "GET", f"/v1/sponsors?page={self.rng.randint(1, 5)}{band}", None, OK
        if pick < 0.6:
            return "GET", f"/v1/sponsors/{self.sponsor()}", None, OK
        if pick < 0.72:
            body = {"decision": self.rng.choice(["inspect", "dismiss"]), "note": "soak"}
            return "POST", f"/v1/sponsors/{self.sponsor()}/reviews", body, frozenset({201})
        if pick < 0.8 and self.reviews:
            return "GET", f"/v1/reviews/{self.rng.choice(self.reviews)}", None, OK
        if pick < 0.86 and self.reviews:
            body = {"outcome": "OPEN"}  # 409 for a dismissal: it opened no inspection
            return ("POST", f"/v1/reviews/{self.rng.choice(self.reviews)}/outcome", body,
                    frozenset({200, 409}))
        if pick < 0.93:
            return "GET", f"/v1/sponsors/{self.sponsor()}/reviews", None, OK
        return "POST", "/v1/admin/reload", None, frozenset({403})

    def lead(self) -> Call:
        pick = self.rng.random()
        if pick < 0.5:
            return "GET", "/v1/cases", None, OK
        if pick < 0.8:
            return "GET", "/v1/model", None, OK
        return "POST", "/v1/scores", {"sponsor_ids": [self.sponsor()]}, frozenset({403})

    def admin(self) -> Call:
        pick = self.rng.random()
        if pick < 0.3:
            return "GET", "/v1/admin/keys", None, OK
        if pick < 0.4:
            return "POST", "/v1/admin/keys", {"role": "analyst", "label": "soak"}, \
                frozenset({201})
        if pick < 0.7:
            return "GET", f"/v1/sponsors/{self.sponsor()}", None, OK
        return "POST", "/v1/scores", {"sponsor_ids": [self.sponsor()]}, OK

    def run(self) -> None:
        plan = self.plan()
        while not self.stop.is_set():
            method, path, body, expected = plan()
            started = time.perf_counter()
            try:
                answer = self.client.request(method, path, json=body)
            except httpx.HTTPError as exc:
                self.statuses["error"] += 1
                self.problems.append(f"{method} {path}: {type(exc).__name__}")
                continue
            self.latencies.append(time.perf_counter() - started)
            self.statuses[str(answer.status_code)] += 1
            if answer.status_code not in expected:
                self.problems.append(f"{method} {path}: {answer.status_code} "
                                     f"{answer.text[:200]}")
                continue
            if answer.status_code == 201 and path.endswith("/reviews"):
                self.reviews.append(answer.json()["review_id"])
            elif answer.status_code == 201 and path == "/v1/admin/keys":
                key_id = answer.json()["key_id"]  # issued, then revoked at once
                revoked = self.client.delete(f"/v1/admin/keys/{key_id}")
                self.statuses[str(revoked.status_code)] += 1
                if revoked.status_code != 200:
                    self.problems.append(f"DELETE key: {revoked.status_code}")
        self.client.close()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--sponsors", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=300.0)
    parser.add_argument("--threads-per-role", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import polars as pl

    from sponsorwatch.settings import Settings
    from training.fitting.scoring import score_dates

    source, _ = ensure_home(args.home, args.sponsors)
    home = Path(tempfile.mkdtemp(prefix="bench-soak-run-")) / "home"
    shutil.copytree(source, home)
    settings = Settings(home=home, mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    env = {**os.environ, "SPONSORWATCH_HOME": str(home),
           "SPONSORWATCH_MLFLOW_TRACKING_URI": settings.tracking_uri,
           "MLFLOW_TRACKING_URI": settings.tracking_uri}
    verify_exists = has_audit_verify(home, env)
    if not verify_exists:
        print("NOTE: `sponsorwatch audit verify` does not exist (yet): the soak runs, but the "
              "benchmark fails at the end", flush=True)
    day = score_dates(settings.scores_dir)[-1]
    sponsors = pl.read_parquet(settings.scores_dir / f"as_of={day}" / "scores.parquet",
                               columns=["sponsor_id"])["sponsor_id"].to_list()
    keys = issue_keys(settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "serving.app:app_from_environment", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log",
         "--log-level", "warning"], env=env, cwd=ROOT)
    results: dict[str, Any] = {
        "command": " ".join(["uv run python benchmarks/bench_soak.py", *sys.argv[1:]]),
        "cores": os.cpu_count(), "duration_s": args.duration,
        "threads_per_role": args.threads_per_role, "sponsors_in_snapshot": len(sponsors),
        "as_of": str(day), "load_average_1m_at_start": round(os.getloadavg()[0], 2)}
    stop = threading.Event()
    workers = [Worker(role, key, base, sponsors, 1000 * n + i, stop)
               for n, (role, key) in enumerate(sorted(keys.items()))
               for i in range(args.threads_per_role)]
    try:
        wait_ready(f"{base}/readyz", service)
        started = time.monotonic()
        for worker in workers:
            worker.start()
        while time.monotonic() - started < args.duration:
            time.sleep(min(10.0, args.duration))
            done = sum(sum(w.statuses.values()) for w in workers)
            print(f"{time.monotonic() - started:6.0f} s  {done} requests", flush=True)
        stop.set()
        for worker in workers:
            worker.join(timeout=120)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        service.terminate()  # uvicorn's graceful shutdown closes the audit writer
        try:
            service.wait(timeout=120)
        except subprocess.TimeoutExpired:
            service.kill()
    by_role: dict[str, dict[str, Any]] = defaultdict(lambda: {"statuses": Counter(),
                                                              "latencies": [], "problems": []})
    for worker in workers:
        entry = by_role[worker.role]
        entry["statuses"].update(worker.statuses)
        entry["latencies"].extend(worker.latencies)
        entry["problems"].extend(worker.problems)
    results["roles"] = {
        role: {"requests": sum(e["statuses"].values()), "statuses": dict(e["statuses"]),
               "p50_ms": percentile(e["latencies"], 0.5),
               "p99_ms": percentile(e["latencies"], 0.99),
               "unexpected": len(e["problems"]), "first_unexpected": e["problems"][:5]}
        for role, e in sorted(by_role.items())}
    total = sum(r["requests"] for r in results["roles"].values())
    server_errors = sum(n for r in results["roles"].values()
                        for status, n in r["statuses"].items() if status.startswith("5"))
    unexpected = sum(r["unexpected"] for r in results["roles"].values())
    results.update(requests=total, requests_per_s=round(total / elapsed, 1),
                   server_errors=server_errors, unexpected=unexpected,
                   service_exit_code=service.returncode,
                   load_average_1m_at_end=round(os.getloadavg()[0], 2))
    if verify_exists:
        verify = sponsorwatch(home, "audit", "verify", env=env)
        results["audit_verify"] = {"exit_code": verify.returncode,
                                   "output": (verify.stdout + verify.stderr)[-2000:]}
    else:
        results["audit_verify"] = {"exit_code": None,
                                   "output": "`sponsorwatch audit verify` does not exist"}
    failures = []
    if server_errors:
        failures.append(f"{server_errors} server errors")
    if unexpected:
        failures.append(f"{unexpected} unexpected answers")
    if not verify_exists:
        failures.append("`sponsorwatch audit verify` is missing: the trail could not be "
                        "verified after the soak")
    elif results["audit_verify"]["exit_code"] != 0:
        failures.append("audit verify failed after the soak")
    results["passed"] = not failures
    results["failures"] = failures
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(json.dumps({k: results[k] for k in ("requests", "requests_per_s", "server_errors",
                                              "unexpected", "audit_verify", "failures")},
                     indent=2, default=str))
    if failures:
        print("FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
