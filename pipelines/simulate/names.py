"""Synthetic trade names, KvK numbers and pseudonyms.

Names are invented from syllables so no real sponsor is named; where the public register
is at hand, any name or number on it is replaced as well (a test proves none overlaps).
Pseudonyms come from an affine bijection on a large range, so they are unique without
a set and look unordered.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import polars as pl

_ONSETS = ("br", "d", "f", "gr", "h", "j", "k", "kl", "l", "m", "n", "p", "qu", "r", "s",
           "st", "t", "tr", "v", "vr", "w", "z", "x", "sk")
_VOWELS = ("a", "e", "i", "o", "u", "ae", "ij", "oo", "y", "ea")
_CODAS = ("", "n", "r", "x", "l", "s", "nd", "rk", "m", "th", "v", "q")

_SECTOR_WORDS: dict[str, tuple[str, ...]] = {
    "ict": ("Software", "Digital", "Data", "Cloud", "Systems", "Labs", "Tech", "IT Services"),
    "business_services": ("Consulting", "Advisory", "Partners", "Group", "Management",
                          "Engineering", "Services", "Solutions"),
    "research": ("Research Institute", "Instituut", "Academy", "Research Centre",
                 "Science Foundation"),
    "restaurants": ("Grill", "Kitchen", "Restaurant", "Eethuis", "Bistro", "Garden"),
    "hair_beauty": ("Kapsalon", "Beauty", "Hair Studio", "Nails", "Barbershop"),
    "construction": ("Bouw", "Installatietechniek", "Infra", "Construction", "Techniek"),
    "wholesale": ("Trading", "Import Export", "Handelsonderneming", "Distribution",
                  "Supplies"),
    "agriculture": ("Kwekerij", "Greenhouse", "Agro", "Tuinbouw", "Farms"),
    "staffing": ("Staffing", "Uitzendbureau", "Talent", "Recruitment", "Detachering"),
    "manufacturing": ("Industries", "Manufacturing", "Precision", "Machinery", "Components"),
}

_SUFFIX: dict[str, tuple[str, str]] = {
    "BV": ("", " B.V."), "NV": ("", " N.V."), "VOF": ("", " V.O.F."), "CV": ("", " C.V."),
    "EENMANSZAAK": ("", ""), "STICHTING": ("Stichting ", ""), "VERENIGING": ("Vereniging ", ""),
    "COOPERATIE": ("Coöperatie ", " U.A."), "FOREIGN_ENTITY": ("", " Ltd"), "OTHER": ("", ""),
}

#: Large odd multipliers coprime with 10: x -> (a*x + b) mod 10^k is a bijection.
_MULTIPLIER = 7_919_393


def default_register_path() -> Path | None:
    """The public register of recognised sponsors, where it can be found.

    ``SPONSORWATCH_REGISTER_FILE`` wins; else ``../shared/data/ind-register/`` next to
    the project folder (as in development and CI). None when absent.
    """
    env = os.environ.get("SPONSORWATCH_REGISTER_FILE")
    if env:
        return Path(env)
    for root in (Path.cwd(), *Path(__file__).resolve().parents):
        folder = root.parent / "shared" / "data" / "ind-register"
        if folder.is_dir():
            files = sorted(folder.glob("register-*.json"))
            if files:
                return files[-1]
    return None


def load_register(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """Normalised names and KvK numbers on the public register at ``path``."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    names = frozenset(_normalised(pl.Series([e["name"] for e in payload["sponsors"]
                                             if e.get("name")], dtype=pl.String)))
    numbers = frozenset(str(e["kvk"]) for e in payload["sponsors"] if e.get("kvk"))
    return names, numbers


def normalise_name(name: str) -> str:
    """Lower case, dots and commas as spaces, single spaces: 'B.V.' and 'b v' compare equal."""
    return " ".join(name.lower().replace(".", " ").replace(",", " ").split())


def _normalised(names: pl.Series) -> list[str]:
    """:func:`normalise_name` for a whole column at once."""
    return (names.str.to_lowercase().str.replace_all(r"[.,]", " ")
            .str.replace_all(r"\s+", " ").str.strip_chars().to_list())


def pseudonyms(prefix: str, index: np.ndarray, digits: int, salt: int) -> pl.Series:
    """Unique pseudonyms ``prefix`` + ``digits`` digits for distinct non-negative ``index``."""
    space = 10 ** digits
    code = (index.astype(np.int64) * _MULTIPLIER + salt) % space
    frame = pl.DataFrame({"code": code})
    return frame.select(
        pl.concat_str(pl.lit(prefix), pl.col("code").cast(pl.String).str.zfill(digits))
        .alias("key")).to_series()


def kvk_numbers(n: int, rng: np.random.Generator, exclude: frozenset[str]) -> pl.Series:
    """``n`` distinct 8-digit KvK numbers, none of them in ``exclude``."""
    salt = int(rng.integers(0, 10**8))
    take = n + 64 + n // 100
    code = (np.arange(take, dtype=np.int64) * _MULTIPLIER + salt) % 10**8
    series = pl.Series("kvk", code).cast(pl.String).str.zfill(8)
    keep = (code >= 1_000_000) & ~series.is_in(list(exclude)).to_numpy()
    chosen = series.filter(pl.Series(keep))
    if chosen.len() < n:  # only with an absurdly large exclusion list
        raise ValueError(f"could not draw {n} KvK numbers outside the register")
    return chosen.head(n)


def trade_names(sector_names: np.ndarray, legal_forms: np.ndarray, rng: np.random.Generator,
                exclude: frozenset[str]) -> pl.Series:
    """Invented trade names: a made-up word, a sector word and the legal-form suffix."""
    n = len(sector_names)
    words = _invented_words(n, rng)
    sector_word = np.empty(n, dtype=object)
    for name, options in sorted(_SECTOR_WORDS.items()):
        idx = np.flatnonzero(sector_names == name)
        sector_word[idx] = np.asarray(options, dtype=object)[rng.integers(0, len(options),
                                                                           idx.size)]
    prefix = np.array([_SUFFIX[f][0] for f in legal_forms], dtype=object)
    suffix = np.array([_SUFFIX[f][1] for f in legal_forms], dtype=object)
    names = prefix + words + " " + sector_word + suffix
    def clashes() -> np.ndarray:
        normal = _normalised(pl.Series(names.astype(str)))
        return pl.Series(normal).is_in(pl.Series(sorted(exclude), dtype=pl.String).implode()
                                       ).to_numpy()

    clash = clashes()
    while clash.any():  # rare; a longer invented word removes the clash
        words[clash] = words[clash] + "ix"
        names[clash] = prefix[clash] + words[clash] + " " + sector_word[clash] + suffix[clash]
        clash = clashes()
    return pl.Series("name", names.astype(str))


def _invented_words(n: int, rng: np.random.Generator) -> np.ndarray:
    syllables = 2 + (rng.random(n) < 0.35).astype(int)
    parts = []
    for k in range(3):
        onset = np.asarray(_ONSETS, dtype=object)[rng.integers(0, len(_ONSETS), n)]
        vowel = np.asarray(_VOWELS, dtype=object)[rng.integers(0, len(_VOWELS), n)]
        coda = np.asarray(_CODAS, dtype=object)[rng.integers(0, len(_CODAS), n)]
        part = onset + vowel + np.where(k == 2, coda, "")
        parts.append(np.where(syllables > k, part, ""))
    word = parts[0] + parts[1] + parts[2]
    return np.array([w[:1].upper() + w[1:] for w in word], dtype=object)
