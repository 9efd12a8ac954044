"""The public IND register of recognised sponsors, checked against an extract.

Register format: ``{"sponsors": [{"name": ..., "kvk": "01234567"}, ...]}`` (the shape of
``shared/data/ind-register/register-2026-07-01.json``). KvK numbers are kept as the exact
strings delivered: JSON strings are never turned into numbers here.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from .errors import IngestError

_KVK = re.compile(r"^[0-9]{8}$")
#: Findings listed by name in reports; counts are always complete.
EXAMPLES = 20


@dataclass(frozen=True)
class Register:
    """The register as delivered: one row per entry, ``kvk`` null where it has none."""

    path: Path
    entries: pl.DataFrame  # name: String, kvk: String (exact text)


@dataclass
class RegisterFindings:
    """Data-quality findings of a register check (never a reason to stop ingest)."""

    register_file: str
    entries: int
    with_kvk: int
    kvk_starting_with_zero: int
    entries_without_kvk: list[str] = field(default_factory=list)
    malformed_kvk: list[dict[str, str]] = field(default_factory=list)
    duplicate_kvk: list[str] = field(default_factory=list)
    #: Filled when checked against an extract.
    extract_sponsors: int | None = None
    sponsors_not_on_register: int | None = None
    sponsors_not_on_register_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_register(path: Path) -> Register:
    """Read a register file.

    Raises:
        IngestError: the file is not JSON, or not in the register's shape.
    """
    try:
        payload = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestError(str(path), None, "register_readable",
                          f"not a readable UTF-8 JSON file ({exc})") from exc
    sponsors = payload.get("sponsors") if isinstance(payload, dict) else None
    if not isinstance(sponsors, list) or not all(isinstance(s, dict) for s in sponsors):
        raise IngestError(str(path), "sponsors", "register_shape",
                          'expected {"sponsors": [{"name": ..., "kvk": ...}, ...]}')
    for number, entry in enumerate(sponsors, start=1):
        kvk = entry.get("kvk")
        if kvk is not None and not isinstance(kvk, str):
            raise IngestError(str(path), "kvk", "register_kvk_is_text",
                              f"entry {number} has kvk {kvk!r} as a number; KvK numbers must "
                              "be strings so leading zeros survive")
    entries = pl.DataFrame(
        {"name": [s.get("name") for s in sponsors],
         "kvk": [(s.get("kvk") or None) for s in sponsors]},
        schema={"name": pl.String(), "kvk": pl.String()})
    return Register(path, entries)


def check_register(register: Register) -> RegisterFindings:
    """Findings about the register file itself."""
    entries = register.entries
    with_kvk = entries.filter(pl.col("kvk").is_not_null())
    malformed = with_kvk.filter(~pl.col("kvk").str.contains(_KVK.pattern))
    duplicates = (with_kvk.group_by("kvk").len().filter(pl.col("len") > 1)
                  .sort("kvk")["kvk"].to_list())
    return RegisterFindings(
        register_file=str(register.path),
        entries=entries.height,
        with_kvk=with_kvk.height,
        kvk_starting_with_zero=with_kvk.filter(pl.col("kvk").str.starts_with("0")).height,
        entries_without_kvk=sorted(
            str(n) for n in entries.filter(pl.col("kvk").is_null())["name"].to_list()),
        malformed_kvk=malformed.sort("kvk").to_dicts(),
        duplicate_kvk=duplicates)


def check_extract_against_register(register: Register,
                                   sponsor_ids: pl.Series) -> RegisterFindings:
    """Findings about the register plus sponsors of the extract that it does not list."""
    findings = check_register(register)
    known = register.entries["kvk"].drop_nulls().unique()
    extract_ids = sponsor_ids.unique().sort()
    missing = extract_ids.filter(~extract_ids.is_in(known.implode()))
    findings.extract_sponsors = sponsor_ids.n_unique()
    findings.sponsors_not_on_register = missing.len()
    findings.sponsors_not_on_register_examples = missing.head(EXAMPLES).to_list()
    return findings
