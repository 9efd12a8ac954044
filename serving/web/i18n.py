"""Text of the analyst pages in English and Dutch, and numbers written the local way.

The words live in data files shipped in this package, one folder per language
(``locales/<lang>/``): ``messages.toml`` (every string a page shows, through
:func:`translate`), ``codes.toml`` (contract codes in words, :func:`code_text`) and
``features.toml`` (feature descriptions; English comes from the feature registry, Dutch
from ``nl/features.toml``, :func:`feature_text`). A file is read the first time a page
needs it and kept; importing this module reads nothing. A test checks that both
languages have the same keys and that every key a template or page module uses exists.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

Language = Literal["en", "nl"]
LANGUAGES: tuple[Language, ...] = ("en", "nl")
DEFAULT_LANGUAGE: Language = "en"
LOCALES_DIR = Path(__file__).parent / "locales"
#: The catalogue files of each language (``locales/<lang>/<name>.toml``).
CATALOGUES = ("messages", "codes", "features")


@cache
def catalogue(lang: Language, name: str) -> Mapping[str, str]:
    """The texts of one catalogue file, read once. Tables are flattened to dotted keys:
    ``[list] count = "..."`` is ``"list.count"``.

    Raises:
        KeyError: for a language or catalogue that does not exist.
    """
    if lang not in LANGUAGES or name not in CATALOGUES:
        raise KeyError((lang, name))
    with (LOCALES_DIR / lang / f"{name}.toml").open("rb") as file:
        return MappingProxyType(_flat(tomllib.load(file)))


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, str):
            out[f"{prefix}{key}"] = value
        else:
            raise TypeError(f"{prefix}{key}: a text must be a string, not {value!r}")
    return out


class Catalogue(Mapping[Language, Mapping[str, str]]):
    """One catalogue in every language, as ``{lang: {key: text}}``; each language's file
    is read on first use."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getitem__(self, lang: Language) -> Mapping[str, str]:
        return catalogue(lang, self.name)

    def __iter__(self) -> Iterator[Language]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


#: Every string a page shows, by language and key (``locales/<lang>/messages.toml``).
MESSAGES = Catalogue("messages")
#: Words for contract codes shown on the pages (outcomes, selections, findings, kinds).
CODE_TEXT = Catalogue("codes")
#: Feature descriptions replacing the registry's English one (``nl`` has them all).
FEATURE_TEXT = Catalogue("features")


def language_or_default(value: object) -> Language:
    """``value`` when it names a supported language, else the default."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE  # type: ignore[return-value]


def translate(lang: Language, key: str, **values: object) -> str:
    """The text of ``key`` in ``lang`` with ``{name}`` fields filled in.

    Raises:
        KeyError: for an unknown key, so a typo fails the page tests instead of showing.
    """
    text = catalogue(lang, "messages")[key]
    return text.format(**values) if values else text


def translator(lang: Language) -> Callable[..., str]:
    """``t(key, **values)`` for one language, as templates call it."""
    return lambda key, **values: translate(lang, key, **values)


def code_text(lang: Language, code: str | None) -> str:
    """A contract code (outcome, selection, finding, notice kind) in words."""
    if code is None:
        return ""
    return catalogue(lang, "codes").get(code, code.replace("_", " ").lower())


def feature_text(lang: Language, name: str, english: str) -> str:
    """A feature's description in ``lang`` (English from the registry as fallback)."""
    return catalogue(lang, "features").get(name, english)


def number(value: float | int | None, lang: Language, decimals: int = 0) -> str:
    """``value`` with thousands grouped and the language's decimal mark."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return translate(lang, "value.missing")
    text = f"{value:,.{decimals}f}"
    if lang == "nl":
        text = text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")
    return text


def percent(value: float | None, lang: Language, decimals: int = 0) -> str:
    if value is None or not math.isfinite(value):
        return translate(lang, "value.missing")
    return number(100 * value, lang, decimals) + "%"


def euro(value: float | None, lang: Language) -> str:
    if value is None or not math.isfinite(value):
        return translate(lang, "value.missing")
    return f"€ {number(value, lang, 0)}"


def feature_value(value: float | None, unit: str | None, lang: Language) -> str:
    """A feature value written for people, by its registry unit."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return translate(lang, "value.missing")
    if unit == "share":
        return percent(value, lang)
    if unit == "ratio":
        return number(value, lang, 2) + "×"
    if unit == "euro":
        return euro(value, lang)
    if unit == "flag":
        return translate(lang, "value.yes" if value >= 0.5 else "value.no")
    if unit in ("count", "code"):
        return number(value, lang, 0 if float(value).is_integer() else 1)
    if unit in ("days", "months", "years"):
        return translate(lang, f"unit.{unit}", value=number(value, lang, 0 if unit != "years"
                                                            else 1))
    return number(value, lang, 2)


def frequency(rate: float) -> tuple[int, int]:
    """A rate as "about n in d": tenths from 0.095 to below 0.95, else hundredths."""
    denominator = 10 if 0.095 <= rate < 0.95 else 100
    return round(rate * denominator), denominator


def calibrated_meaning(score: float, lang: Language) -> str:
    """A rate as a frequency: "about 3 in 10 sponsors with this score were found in
    violation". The sponsor page says it only with the evidence behind it
    (:func:`evidence_meaning`)."""
    count, denominator = frequency(score)
    if count < 1:
        return translate(lang, "sponsor.meaning_low")
    return translate(lang, "sponsor.meaning", n=count, d=denominator)


def evidence_meaning(score: float, evidence: Mapping[str, Any] | None, lang: Language,
                     version: str) -> dict[str, str | None]:
    """What a score means, only as far as the served model's calibration evidence goes.

    ``evidence`` is ``training.fitting.intervals.calibration_evidence`` of the model that
    made the score. Where the score's range holds enough inspected snapshots, ``headline``
    is the observed frequency in that range and ``evidence`` its 95 % interval and counts
    (RANDOM inspections, else all labelled, saying so); where it holds too few, or there is
    no table, ``headline`` says that there is not enough evidence and no frequency is given.
    """
    from training.fitting.intervals import evidence_range

    found = evidence_range(evidence, score)
    if evidence is None or found is None:
        return {"headline": translate(lang, "sponsor.evidence_none", version=version),
                "evidence": None}
    span = {"low": number(found["lo"], lang, 2), "high": number(found["hi"], lang, 2)}
    if found["basis"] == "thin":
        return {"headline": translate(lang, "sponsor.evidence_thin",
                                      inspected=found["labelled_inspected"],
                                      minimum=evidence["min_inspected"], **span),
                "evidence": None}
    _, denominator = frequency(found["observed"])
    key = ("sponsor.evidence_random" if found["basis"] == "random"
           else "sponsor.evidence_labelled")
    # Bounds rounded outwards, so the stated interval holds the computed one.
    return {"headline": calibrated_meaning(found["observed"], lang),
            "evidence": translate(
                lang, key, lo=math.floor(found["observed_lo"] * denominator + 1e-9),
                hi=math.ceil(found["observed_hi"] * denominator - 1e-9), d=denominator,
                violations=found["violations"], inspected=found["inspected"],
                random=found["random_inspected"], **span)}
