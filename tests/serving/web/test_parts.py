"""The pieces of the pages that need no service: texts in both languages, number
formats, the calibrated meaning of a score, query parsing and chart scales."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from serving.web import charts
from serving.web.i18n import (
    CODE_TEXT,
    FEATURE_TEXT_NL,
    MESSAGES,
    calibrated_meaning,
    feature_value,
    number,
)
from serving.web.ranking import ListQuery, parse_query
from serving.web.session import safe_next

TEMPLATES = Path(__file__).parents[3] / "serving" / "web" / "templates"


def test_both_languages_have_the_same_texts() -> None:
    assert set(MESSAGES["en"]) == set(MESSAGES["nl"])
    assert set(CODE_TEXT["en"]) == set(CODE_TEXT["nl"])
    for key, english in MESSAGES["en"].items():
        fields = set(re.findall(r"{(\w+)}", english))
        assert fields == set(re.findall(r"{(\w+)}", MESSAGES["nl"][key])), key


def test_every_text_a_template_asks_for_exists() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.]+)["']""", template.read_text()))
    assert used, "no t('...') calls found: the pattern is out of date"
    prefixes = {key for key in used if key.endswith(".")}  # t("band." ~ band)
    assert used - prefixes - set(MESSAGES["en"]) == set()
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in MESSAGES["en"]), prefix


def test_every_feature_has_dutch_words() -> None:
    from features.registry import FEATURES

    # A new feature needs its Dutch wording in serving/web/i18n.py FEATURE_TEXT_NL.
    assert set(FEATURES) - set(FEATURE_TEXT_NL) == set()
    assert set(FEATURE_TEXT_NL) - set(FEATURES) == set(), "words for features that are gone"


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
