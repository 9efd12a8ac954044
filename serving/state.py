"""What the service holds in memory: the champion model and the latest score snapshot.

Both are loaded once (start-up, ``POST /v1/admin/reload``) and swapped in whole, so a
request always sees one consistent pair. The snapshot keeps each sponsor's JSON answer
pre-serialised: answering ``POST /v1/scores`` is a dict lookup and a byte join.
"""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from serving.db import utc_now
from sponsorwatch.settings import Settings, redact_credentials
from sponsorwatch.storage import json_safe
from training.fitting.model import load_risk_model
from training.fitting.scoring import SCORE_COLUMNS, score_dates

log = logging.getLogger(__name__)

_RISK_FIELDS = ("sponsor_id", "name", "sbi_code", "sector", "postcode4", "score", "rank",
                "band", "reasons", "model_version", "as_of")
_HISTORY_COLUMNS = ("sponsor_id", "as_of", "score", "rank", "band", "model_version")


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"), default=str, allow_nan=False)


@dataclass
class Snapshot:
    """One day's ranking, indexed for constant-time lookups."""

    as_of: date
    model_version: str
    frame: pl.DataFrame
    feature_columns: list[str]
    history: pl.DataFrame
    risk_json: dict[str, str] = field(repr=False)
    row_of: dict[str, int] = field(repr=False)
    #: Scores in rank order (descending), to place a new score in the ranking.
    ranked_scores: np.ndarray = field(repr=False)

    @classmethod
    def load(cls, scores_dir: Path) -> Snapshot:
        """The latest snapshot plus the score history of every snapshot.

        Raises:
            FileNotFoundError: naming the folder when there is no snapshot.
        """
        days = score_dates(scores_dir)
        if not days:
            raise FileNotFoundError(f"{scores_dir}: no score snapshot; run `sponsorwatch score`")
        latest = days[-1]
        frame = pl.read_parquet(scores_dir / f"as_of={latest}" / "scores.parquet").sort("rank")
        history = (pl.concat([pl.scan_parquet(scores_dir / f"as_of={d}" / "scores.parquet")
                              .select(pl.col(c) for c in _HISTORY_COLUMNS)
                              .with_columns(pl.col("as_of").cast(pl.Date),
                                            pl.col("rank").cast(pl.Int64))
                              for d in days], how="vertical_relaxed")
                   .sort("sponsor_id", "as_of").collect())
        return cls.from_frame(frame, history)

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, history: pl.DataFrame | None = None) -> Snapshot:
        if frame.is_empty():
            raise ValueError("score snapshot is empty")
        frame = frame.sort("rank")
        as_of = frame["as_of"][0]
        versions = frame["model_version"].unique().to_list()
        risk_json = {}
        for row in frame.select(_RISK_FIELDS).iter_rows(named=True):
            row["score"] = float(row["score"])
            row["reasons"] = [{**r, "value": json_safe(r["value"])} for r in row["reasons"] or []]
            risk_json[row["sponsor_id"]] = _dumps(row)
        return cls(
            as_of=as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of)),
            model_version=str(versions[0]) if len(versions) == 1 else ",".join(map(str, versions)),
            frame=frame,
            feature_columns=[c for c in frame.columns if c not in SCORE_COLUMNS],
            history=history if history is not None else frame.select(_HISTORY_COLUMNS),
            risk_json=risk_json,
            row_of={sid: i for i, sid in enumerate(frame["sponsor_id"].to_list())},
            ranked_scores=frame["score"].to_numpy().astype(float),
        )

    def score_response(self, sponsor_ids: list[str]) -> tuple[bytes, list[str]]:
        """The ScoreResponse body for ``sponsor_ids`` and the ids it reveals."""
        found: list[str] = []
        missing: list[str] = []
        seen: set[str] = set()
        for sid in sponsor_ids:
            if sid in seen:
                continue
            seen.add(sid)
            (found if sid in self.risk_json else missing).append(sid)
        not_found = ",".join(
            f'{{"sponsor_id":{_dumps(sid)},"reason":"not in the ranking of {self.as_of}"}}'
            for sid in missing)
        body = (f'{{"model_version":{self._version_json},"as_of":"{self.as_of}",'
                f'"results":[{",".join(self.risk_json[s] for s in found)}],'
                f'"not_found":[{not_found}]}}')
        return body.encode(), found

    def page_response(self, sponsor_ids: list[str], total: int, page: int,
                      page_size: int) -> bytes:
        """The RankedPage body for one page of sponsors."""
        return (f'{{"as_of":"{self.as_of}","model_version":{self._version_json},'
                f'"total":{total},"page":{page},"page_size":{page_size},'
                f'"items":[{",".join(self.risk_json[s] for s in sponsor_ids)}]}}').encode()

    @property
    def _version_json(self) -> str:
        return _dumps(self.model_version)

    def rank_of_score(self, score: float) -> int:
        """Rank a new score would take among this snapshot's (ties go after)."""
        # ranked_scores is descending; count scores strictly greater, then +1.
        return int(np.sum(self.ranked_scores > score)) + 1

    def band_at_rank(self, rank: int) -> str:
        """The band of the sponsor holding ``rank`` (the last band past the end)."""
        return str(self.frame["band"][min(rank, self.frame.height) - 1])

    def history_of(self, sponsor_id: str) -> list[dict[str, Any]]:
        return self.history.filter(pl.col("sponsor_id") == sponsor_id).to_dicts()

    def row(self, sponsor_id: str) -> dict[str, Any] | None:
        index = self.row_of.get(sponsor_id)
        return None if index is None else self.frame.row(index, named=True)


@dataclass
class WarehouseContext:
    """The warehouse tables the service reads at request time, held in memory: past
    inspections for sponsor pages, and sponsors and officers, which link a sponsor to
    others (shared address or officer) when scoring raw records."""

    sponsors: pl.DataFrame
    sponsor_officers: pl.DataFrame
    inspections: pl.DataFrame

    @classmethod
    def load(cls, warehouse_dir: Path) -> WarehouseContext:
        from sponsorwatch.contract import TABLES, empty_frame
        from sponsorwatch.history import known_versions
        from sponsorwatch.storage import scan_warehouse

        tables = scan_warehouse(warehouse_dir)

        def read(name: str) -> pl.DataFrame:
            if name not in tables:
                return empty_frame(TABLES[name])
            # What the service shows is what is known now: each record's latest version.
            return known_versions(name, tables[name]).select(
                TABLES[name].column_names).collect()

        return cls(read("sponsors"), read("sponsor_officers"),
                   read("inspections").sort("opened_on"))

    def inspections_of(self, sponsor_id: str) -> list[dict[str, Any]]:
        return (self.inspections.filter(pl.col("sponsor_id") == sponsor_id)
                .drop("sponsor_id").to_dicts())

    def linked_records(self, sponsors: pl.DataFrame,
                       officers: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows of *other* sponsors sharing an address or an officer with the given ones,
        and those sponsors' officer rows."""
        own = sponsors["sponsor_id"].unique()
        addresses = sponsors["address_key"].drop_nulls().unique()
        officer_keys = officers["officer_key"].drop_nulls().unique()
        via_officer = self.sponsor_officers.filter(
            pl.col("officer_key").is_in(officer_keys.implode()))["sponsor_id"].unique()
        linked = self.sponsors.filter(
            ~pl.col("sponsor_id").is_in(own.implode())
            & (pl.col("address_key").is_in(addresses.implode())
               | pl.col("sponsor_id").is_in(via_officer.implode())))
        linked_officers = self.sponsor_officers.filter(
            pl.col("sponsor_id").is_in(linked["sponsor_id"].implode()))
        return linked, linked_officers


@dataclass
class LoadedModel:
    """The champion in memory with what GET /v1/model reports about it."""

    model: Any
    version: str
    info: dict[str, Any]
    source: str
    loaded_at: datetime


@dataclass
class ServingState:
    """The pair every request reads; replaced whole on reload."""

    model: LoadedModel | None
    snapshot: Snapshot | None
    context: WarehouseContext | None = None
    thresholds: pl.DataFrame | None = None
    problems: dict[str, str] = field(default_factory=dict)


def _plain(info: Any) -> dict[str, Any]:
    if is_dataclass(info) and not isinstance(info, type):
        return asdict(info)
    if isinstance(info, dict):
        return dict(info)
    return {k: v for k, v in vars(info).items() if not k.startswith("_")}


def model_cache_dir(settings: Settings) -> Path:
    return settings.home / "serving" / "model-cache"


def _cache_model(settings: Settings, loaded: LoadedModel) -> None:
    from sponsorwatch.storage import atomic_path, write_json_atomic

    folder = model_cache_dir(settings)
    with atomic_path(folder / "champion.pkl") as tmp:
        tmp.write_bytes(pickle.dumps(loaded.model))
    write_json_atomic({"version": loaded.version, "info": loaded.info}, folder / "champion.json")


def _cached_model(settings: Settings) -> LoadedModel:
    folder = model_cache_dir(settings)
    meta = json.loads((folder / "champion.json").read_text(encoding="utf-8"))
    # Our own pickle, written by this service from a model it loaded from the registry.
    model = load_risk_model((folder / "champion.pkl").read_bytes())
    return LoadedModel(model, str(meta["version"]), meta["info"], "cache", utc_now())


def _require_registry(settings: Settings) -> None:
    """Refuse early (and without creating one) when the local SQLite registry is absent."""
    uri = settings.tracking_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        raise FileNotFoundError(f"no model registry at {redact_credentials(uri)}; run "
                                "`sponsorwatch train` and "
                                "`sponsorwatch promote`")


def load_champion(settings: Settings, alias: str = "champion",
                  allow_cache: bool = True) -> LoadedModel:
    """The model under ``alias`` from the registry, kept as a local copy; when the registry
    cannot be reached, the last local copy (``source == "cache"``).

    Raises:
        RuntimeError: naming the registry error when neither can be loaded.
    """
    from training.registry.loading import load_model

    try:
        _require_registry(settings)
        model, info = load_model(settings, alias=alias)
    except Exception as exc:  # any registry failure: unreachable, no alias, broken artifact
        if allow_cache and (model_cache_dir(settings) / "champion.pkl").exists():
            log.warning("registry unavailable (%s); serving the local copy of the model", exc)
            return _cached_model(settings)
        raise RuntimeError(f"cannot load model {settings.model_name}@{alias}: {exc}") from exc
    plain = _plain(info)
    loaded = LoadedModel(model, str(plain.get("version", "unknown")), plain, "registry",
                         utc_now())
    try:
        _cache_model(settings, loaded)
    except OSError as exc:
        log.warning("could not keep a local copy of the model: %s", exc)
    return loaded


def load_state(settings: Settings, previous: ServingState | None = None) -> ServingState:
    """Load model and snapshot; a part that fails keeps the previous one (if any) and is
    reported in ``problems``. The snapshot served is always the model's: one scored by
    another version is scored again (see :func:`_champions_snapshot`)."""
    problems: dict[str, str] = {}
    try:
        model = load_champion(settings)
    except Exception as exc:  # keep serving what we had
        problems["model"] = str(exc)
        model = previous.model if previous else None
    try:
        snapshot = Snapshot.load(settings.scores_dir)
    except Exception as exc:  # a half-written or missing snapshot must not stop the service
        problems["snapshot"] = str(exc)
        snapshot = previous.snapshot if previous else None
    snapshot = _champions_snapshot(settings, model, snapshot, previous, problems)
    try:
        context = WarehouseContext.load(settings.warehouse_dir)
    except Exception as exc:  # sponsor pages then show no inspections; records get no links
        problems["warehouse"] = str(exc)
        context = previous.context if previous else None
    from sponsorwatch.thresholds import load_thresholds

    thresholds = load_thresholds(settings.thresholds_file)
    for part, problem in problems.items():
        log.error("load %s: %s", part, redact_credentials(str(problem)))
    return ServingState(model=model, snapshot=snapshot, context=context, thresholds=thresholds,
                        problems=problems)


def version_mismatch(model: LoadedModel | None, snapshot: Snapshot | None) -> str | None:
    """Why ``model`` and ``snapshot`` may not be served together, or None."""
    if model is None or snapshot is None or snapshot.model_version == model.version:
        return None
    return (f"the score snapshot of {snapshot.as_of} was scored by version "
            f"{snapshot.model_version}, the model loaded is version {model.version}")


def _champions_snapshot(settings: Settings, model: LoadedModel | None,
                        snapshot: Snapshot | None, previous: ServingState | None,
                        problems: dict[str, str]) -> Snapshot | None:
    """The snapshot to serve with ``model``: as loaded where the model scored it; else its
    day scored again in this process from the feature store (written back to the score
    store when the model is the registry's champion, so that the next load finds it);
    else the previous snapshot where the model scored that one; else none, with the reason
    in ``problems["snapshot"]`` (readiness then fails): a mismatch is never served."""
    mismatch = version_mismatch(model, snapshot)
    if mismatch is None:
        return snapshot
    assert model is not None and snapshot is not None
    # Only the champion just read from the registry may write the score store; a model kept
    # from before or a local copy would overwrite the champion's scores with its own.
    authoritative = model.source == "registry" and "model" not in problems
    kept = previous.snapshot if previous else None
    if not authoritative and kept is not None and version_mismatch(model, kept) is None:
        problems["snapshot"] = f"{mismatch}; kept the previous snapshot of {kept.as_of}"
        return kept
    try:
        from training.fitting.scoring import write_scores
        from training.jobs.score import score_table

        table = score_table(settings, model.model, model.version, snapshot.as_of)
        if authoritative:
            write_scores(table, settings.scores_dir, snapshot.as_of)
            fresh = Snapshot.load(settings.scores_dir)
        else:  # not the registry's champion: its scores stay out of the store
            history = snapshot.history.filter(pl.col("as_of") != snapshot.as_of)
            fresh = Snapshot.from_frame(table, pl.concat(
                [history, table.select(_HISTORY_COLUMNS).with_columns(
                    pl.col("as_of").cast(pl.Date), pl.col("rank").cast(pl.Int64))],
                how="vertical_relaxed").sort("sponsor_id", "as_of"))
        if version_mismatch(model, fresh) is None:
            log.warning("%s: scored it again in-process", mismatch)
            return fresh
        problem = f"{mismatch}; scoring it again gave version {fresh.model_version}"
    except Exception as exc:  # no feature store, no warehouse, a feature the model lacks
        problem = f"{mismatch}; it could not be scored again: {exc}"
    if kept is not None and version_mismatch(model, kept) is None:
        problems["snapshot"] = f"{problem}; kept the previous snapshot of {kept.as_of}"
        return kept
    problems["snapshot"] = (f"{problem}; not serving it (run `sponsorwatch score --as-of "
                            f"{snapshot.as_of}` and reload)")
    return None
