"""The pieces of the pages that need no service: texts in both languages, number
formats, the calibrated meaning of a score, query parsing and chart scales."""

from __future__ import annotations

import ast
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from serving.web import charts
from serving.web.i18n import (
    CATALOGUES,
    CODE_TEXT,
    FEATURE_TEXT,
    LANGUAGES,
    LOCALES_DIR,
    MESSAGES,
    calibrated_meaning,
    feature_value,
    number,
)
from serving.web.ranking import BAND_ORDER, SORT_KEYS, ListQuery, parse_query
from serving.web.session import safe_next

ROOT = Path(__file__).parents[3]
WEB = ROOT / "serving" / "web"
TEMPLATES = WEB / "templates"


def test_both_languages_have_the_same_texts() -> None:
    assert set(MESSAGES["en"]) == set(MESSAGES["nl"])
    assert set(CODE_TEXT["en"]) == set(CODE_TEXT["nl"])
    for key, english in MESSAGES["en"].items():
        fields = set(re.findall(r"{(\w+)}", english))
        assert fields == set(re.findall(r"{(\w+)}", MESSAGES["nl"][key])), key


def test_every_language_has_every_catalogue_file() -> None:
    for lang in LANGUAGES:
        assert {p.stem for p in (LOCALES_DIR / lang).glob("*.toml")} == set(CATALOGUES), lang


def test_every_text_a_template_asks_for_exists() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.]+)["']""", template.read_text()))
    assert used, "no t('...') calls found: the pattern is out of date"
    prefixes = {key for key in used if key.endswith(".")}  # t("band." ~ band)
    assert used - prefixes - set(MESSAGES["en"]) == set()
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in MESSAGES["en"]), prefix


def _keys_in_code(sections: set[str]) -> tuple[set[str], set[str]]:
    """Strings in serving/web's Python that look like message keys ("sponsor.not_found",
    also when handed to a template as ``notice``), and f-string key prefixes ("unit.")."""
    templates = {p.name for p in TEMPLATES.glob("*.html")}
    key = re.compile(r"([a-z_]+)\.[a-z_0-9]+")
    used: set[str] = set()
    prefixes: set[str] = set()
    for module in WEB.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = key.fullmatch(node.value)
                if match and match[1] in sections and node.value not in templates:
                    used.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                if (isinstance(head, ast.Constant) and isinstance(head.value, str)
                        and re.fullmatch(r"[a-z_]+\.", head.value)
                        and head.value[:-1] in sections):
                    prefixes.add(head.value)
    return used, prefixes


def test_every_text_the_page_code_asks_for_exists() -> None:
    keys = set(MESSAGES["en"])
    used, prefixes = _keys_in_code({k.split(".", 1)[0] for k in keys})
    assert {"signin.signed_out", "error.no_snapshot", "sponsor.not_found"} <= used, (
        "known keys not found: the scan is out of date")
    assert used - keys == set()
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in keys), prefix


def test_texts_chosen_by_value_exist() -> None:
    """Templates ask for t("col." ~ sort key), t("band." ~ band), t("decision." ~ ...)."""
    from serving.schemas import Decision

    wanted = ({f"col.{k}" for k in SORT_KEYS} | {f"band.{b}" for b in BAND_ORDER}
              | {f"decision.{d}" for d in get_args(Decision)})
    assert wanted - set(MESSAGES["en"]) == set()
    assert set(get_args(Decision)) <= set(CODE_TEXT["en"])


def test_every_feature_has_dutch_words() -> None:
    from features.registry import FEATURES

    # A new feature needs its Dutch wording in serving/web/locales/nl/features.toml.
    assert set(FEATURES) - set(FEATURE_TEXT["nl"]) == set()
    assert set(FEATURE_TEXT["nl"]) - set(FEATURES) == set(), "words for features that are gone"
    assert set(FEATURE_TEXT["en"]) - set(FEATURES) == set(), "words for features that are gone"


def test_texts_are_read_on_first_use_not_at_import() -> None:
    probe = ("import serving.web.i18n as i; n = i.catalogue.cache_info().currsize; "
             "i.translate('nl', 'nav.skip'); print(n, i.catalogue.cache_info().currsize)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["0", "1"]


@pytest.mark.parametrize(("value", "lang", "decimals", "text"), [
    (12345.678, "en", 2, "12,345.68"), (12345.678, "nl", 2, "12.345,68"),
    (0.5, "nl", 1, "0,5"), (None, "en", 0, "missing"), (float("nan"), "nl", 0, "ontbreekt"),
])
def test_numbers_are_written_the_local_way(value: float | None, lang: str, decimals: int,
                                           text: str) -> None:
    assert number(value, lang, decimals) == text  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.25, "share", "25%"), (1.234, "ratio", "1.23×"), (3.0, "count", "3"),
    (12.0, "days", "12 days"), (1.0, "flag", "yes"), (2500.0, "euro", "€ 2,500"),
])
def test_feature_values_by_unit(value: float, unit: str, text: str) -> None:
    assert feature_value(value, unit, "en") == text


@pytest.mark.parametrize(("score", "text"), [
    (0.31, "About 3 in 10 sponsors"), (0.12, "About 1 in 10 sponsors"),
    (0.04, "About 4 in 100 sponsors"), (0.97, "About 97 in 100 sponsors"),
    (0.002, "Fewer than 1 in 100 sponsors"),
])
def test_calibrated_meaning(score: float, text: str) -> None:
    assert calibrated_meaning(score, "en").startswith(text)


def test_query_parsing_keeps_good_values_and_names_bad_ones() -> None:
    query = parse_query({"q": " Data ", "band": "high", "postcode": "10", "min_score": "0,2",
                         "max_score": "7", "reviewed": "maybe", "sort": "name",
                         "order": "desc", "page": "3", "page_size": "25"})
    assert (query.q, query.band, query.postcode, query.min_score) == ("Data", "high", "10", 0.2)
    assert query.max_score is None and query.reviewed == ""
    assert {field for field, _ in query.problems} == {"max_score", "reviewed"}
    assert query.url("/sponsors", page=1) == (
        "/sponsors?q=Data&band=high&postcode=10&min_score=0.2&sort=name&order=desc"
        "&page_size=25")
    assert ListQuery().url("/sponsors") == "/sponsors"


@pytest.mark.parametrize("target", ["http://x.example", "//x.example", "/\\x", "", None])
def test_off_site_targets_go_home(target: str | None) -> None:
    assert safe_next(target) == "/sponsors"


def test_nice_ticks_cover_the_range() -> None:
    ticks = charts.nice_ticks(0.03, 0.97)
    assert ticks[0] <= 0.03 and ticks[-1] >= 0.97 and len(ticks) <= 7
    assert charts.nice_ticks(0, 1, 4, integer=True) == [0.0, 1.0]


def test_time_chart_is_labelled_svg_with_flagged_points() -> None:
    days = [dt.date(2025, m, 1) for m in range(1, 7)]
    series = charts.Series("PK1", list(zip(days, [5000.0, 5100, 4000, 5200, 5300, 5400],
                                           strict=True)), flagged={2})
    svg = str(charts.time_chart("w", "Wages <test>", "desc", [series], y_format=str,
                                references=[(4500.0, "criterion")]))
    assert svg.startswith('<svg class="chart"') and 'role="img"' in svg
    assert "<title id=\"w-title\">Wages &lt;test&gt;</title>" in svg
    assert svg.count('class="flag"') == 1 and 'class="reference"' in svg
    assert charts.time_chart("e", "t", "d", [], y_format=str) == ""
