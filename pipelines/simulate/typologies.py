"""The simulated world declared as data: sectors, legitimate archetypes, abuse typologies.

Everything the simulator does to make a sponsor look the way it does is a parameter here,
so a reader can see at once how common each behaviour is, how strongly it shows in the
records and where it lives. Figures follow ``shared/domain/brief.md`` where it gives one.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sector:
    """An SBI sector with the shape of its sponsors and migrants."""

    name: str
    sbi_codes: tuple[str, ...]
    #: Share of sponsors in this sector (sums to 1 over all sectors).
    sponsor_share: float
    #: Multiplier on the heavy-tailed number of migrants a sponsor employs.
    size_factor: float
    #: Migrants as a share of all employees (median).
    migrant_share: float
    #: Median declared salary over the criterion for an ordinary sponsor.
    salary_ratio: float
    #: Median months a migrant stays.
    tenure_months: float
    #: Relative abuse propensity (every sector has some abuse).
    abuse_weight: float
    #: Mean gross monthly wage of the non-migrant staff.
    local_wage: float
    #: ISCO-08 occupations declared for migrants.
    isco_codes: tuple[str, ...]
    #: Nationality mix of migrants (ISO alpha-3, weight). Restricted column: correlates with
    #: risk only through sector, never through behaviour.
    nationalities: tuple[tuple[str, float], ...]
    #: Share of this sector's sponsors that are bankrupt / withdraw per year.
    exit_rate: float = 0.03
    #: Spread (lognormal sigma) of tenures: knowledge workers in IT change jobs often.
    tenure_spread: float = 0.7
    #: Share of granted permits the sector's sponsors hold (sums to 1): the brief's public
    #: figure where it gives one (:data:`PUBLIC_PERMIT_SHARES`), a design value otherwise.
    permit_share: float = 0.0
    #: Most migrants a sponsor of this sector employs at once: the heavy tail of sizes is
    #: real where big knowledge employers exist (tech, consultancies, universities), not in
    #: kitchens, salons, greenhouses or on building sites.
    max_stock: float = 3000.0


SECTORS: tuple[Sector, ...] = (
    Sector("ict", ("62010", "62020", "62030", "63110"), 0.225, 0.95, 0.40, 1.35, 32, 0.55,
           4800, ("2512", "2511", "2514", "2521", "2529"),
           (("IND", 0.42), ("TUR", 0.10), ("CHN", 0.08), ("RUS", 0.06), ("UKR", 0.06),
            ("BRA", 0.06), ("PAK", 0.05), ("IRN", 0.05), ("EGY", 0.04), ("USA", 0.04),
            ("ZAF", 0.04)), tenure_spread=1.1, permit_share=0.23),
    Sector("business_services", ("70221", "69201", "73111", "71121", "82990"), 0.265, 1.2, 0.25,
           1.28, 42, 0.85, 4300, ("2421", "2431", "2411", "2149", "3322"),
           (("IND", 0.18), ("USA", 0.12), ("CHN", 0.10), ("TUR", 0.10), ("GBR", 0.10),
            ("BRA", 0.08), ("ZAF", 0.07), ("RUS", 0.07), ("JPN", 0.06), ("MEX", 0.06),
            ("EGY", 0.06)), tenure_spread=0.95, permit_share=0.24),
    Sector("research", ("72190", "72110", "85302"), 0.018, 3.0, 0.22, 1.12, 30, 0.5,
           4400, ("2310", "2131", "2111", "2141", "2211"),
           (("CHN", 0.22), ("IND", 0.18), ("IRN", 0.10), ("USA", 0.08), ("BRA", 0.08),
            ("TUR", 0.07), ("RUS", 0.05), ("GBR", 0.07), ("MEX", 0.05), ("PAK", 0.05),
            ("EGY", 0.05)), permit_share=0.12, max_stock=1500),
    Sector("restaurants", ("56101", "56102", "56210"), 0.095, 0.45, 0.18, 1.07, 34, 1.8,
           2400, ("3434", "5120", "1412"),
           (("TUR", 0.28), ("CHN", 0.18), ("IND", 0.14), ("EGY", 0.08), ("MAR", 0.08),
            ("SYR", 0.08), ("THA", 0.06), ("PAK", 0.06), ("VNM", 0.04)), permit_share=0.035,
           max_stock=10),
    Sector("hair_beauty", ("96021", "96022"), 0.035, 0.35, 0.30, 1.05, 32, 1.8,
           2300, ("5141", "5142"),
           (("TUR", 0.34), ("MAR", 0.14), ("SYR", 0.12), ("UKR", 0.10), ("IRN", 0.08),
            ("THA", 0.08), ("VNM", 0.08), ("EGY", 0.06)), permit_share=0.015, max_stock=6),
    Sector("construction", ("41200", "43210", "43221", "42220"), 0.06, 0.65, 0.12, 1.12, 36, 1.6,
           3600, ("3112", "2142", "7411", "3123"),
           (("TUR", 0.24), ("IND", 0.16), ("UKR", 0.14), ("EGY", 0.08), ("BRA", 0.08),
            ("PAK", 0.08), ("SRB", 0.12), ("ZAF", 0.10)), permit_share=0.03, max_stock=40),
    Sector("wholesale", ("46900", "46510", "46460", "46190"), 0.125, 0.65, 0.15, 1.18, 40, 1.1,
           3700, ("3323", "2433", "1324", "2432"),
           (("CHN", 0.26), ("TUR", 0.18), ("IND", 0.16), ("USA", 0.06), ("HKG", 0.06),
            ("EGY", 0.06), ("BRA", 0.06), ("KOR", 0.08), ("JPN", 0.08)), permit_share=0.08,
           max_stock=200),
    Sector("agriculture", ("01130", "01191", "01193"), 0.04, 0.6, 0.10, 1.08, 36, 1.7,
           3100, ("6111", "1311", "2132"),
           (("TUR", 0.20), ("UKR", 0.16), ("IND", 0.14), ("KEN", 0.12), ("EGY", 0.10),
            ("MAR", 0.10), ("ETH", 0.08), ("BRA", 0.10)), permit_share=0.02, max_stock=25),
    Sector("staffing", ("78201", "78202", "78100"), 0.05, 0.7, 0.5, 1.10, 14, 1.6,
           3200, ("3333", "2512", "3115", "7233"),
           (("IND", 0.30), ("TUR", 0.14), ("UKR", 0.10), ("PHL", 0.12), ("BRA", 0.08),
            ("PAK", 0.08), ("EGY", 0.08), ("ZAF", 0.10)), permit_share=0.08, max_stock=400),
    Sector("manufacturing", ("28990", "26110", "20149", "10890"), 0.087, 1.1, 0.08, 1.28, 44, 0.6,
           4200, ("2144", "2145", "2149", "3115"),
           (("IND", 0.22), ("CHN", 0.16), ("TUR", 0.12), ("KOR", 0.06), ("JPN", 0.06),
            ("USA", 0.08), ("IRN", 0.08), ("RUS", 0.08), ("BRA", 0.08), ("TWN", 0.06)),
           permit_share=0.15),
)

SECTOR_NAMES: tuple[str, ...] = tuple(s.name for s in SECTORS)

#: Public shares of permits by sector (brief: non-EU labour migrants work mostly in business
#: services, 24%, and ICT, 23%). No public figure exists for the other sectors.
PUBLIC_PERMIT_SHARES: dict[str, float] = {"business_services": 0.24, "ict": 0.23}


@dataclass(frozen=True)
class Archetype:
    """A kind of legitimate sponsor. Some look suspicious on purpose (hard negatives)."""

    name: str
    #: Probability of this archetype per sector (sector name -> probability); the rest are
    #: ``ordinary``.
    sector_probability: dict[str, float]
    description: str
    hard_negative: bool
    #: Multiplier on the abuse propensity of its sector.
    abuse_factor: float = 1.0


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("ordinary", {}, "an ordinary employer", False),
    Archetype("university", {"research": 0.7},
              "university or research institute: many young migrants on the reduced or "
              "under-30 criterion, fixed-term contracts, high turnover by design", True, 0.3),
    Archetype("startup", {"ict": 0.16, "business_services": 0.10, "wholesale": 0.04,
                          "manufacturing": 0.05, "restaurants": 0.14, "hair_beauty": 0.12,
                          "agriculture": 0.06},
              "start-up (a new tech firm, a new restaurant or salon): young company, fast "
              "hiring, salaries near the criterion, sometimes a migrant founder as director",
              True, 0.6),
    Archetype("large_firm", {"ict": 0.04, "business_services": 0.04, "manufacturing": 0.12,
                             "wholesale": 0.04, "staffing": 0.10, "construction": 0.05},
              "large employer: late and corrected payroll filings from administrative churn",
              True, 0.3),
    Archetype("it_consultancy", {"ict": 0.22, "business_services": 0.04},
              "IT consultancy: most staff are migrants, salaries well above the criterion",
              True, 0.5),
    Archetype("branch_office", {"ict": 0.05, "business_services": 0.06, "wholesale": 0.06,
                                "manufacturing": 0.05},
              "Dutch branch of a foreign company: newly registered, one to four expatriates "
              "and hardly any local staff (the wage bill is the migrants'), officers from a "
              "trust office, salaries far above the criterion", True, 0.3),
)

ARCHETYPE_NAMES: tuple[str, ...] = tuple(a.name for a in ARCHETYPES)

#: Honest behaviours that mimic a typology's trace (noise no single feature can remove).
LOOK_ALIKE_BEHAVIOURS: tuple[str, ...] = (
    "research pays half its early-career migrants on scales tied to the criterion: bunched "
    "just above it, moving only with indexation (like a kickback)",
    "greenhouses and construction pay overtime: hours paid over contract in some months "
    "(like unpaid long days), with the wage up too",
    "staffing and universities hire many short contracts (like a permit mill)",
    "groups move leavers to a sister company and report SPONSOR_CHANGED, not "
    "EMPLOYMENT_ENDED (like an unreported end)",
    "trust offices and big virtual-office addresses put many honest sponsors next to "
    "revoked ones (like a phoenix link)",
    "6% of honest sponsors report ends late; honest hours cuts put a migrant below the "
    "criterion for a few months, reported (like underpayment)",
    "large employers file late and correct often",
)


@dataclass(frozen=True)
class Typology:
    """An abuse typology: how common it is, how strongly and how long it shows, and where."""

    name: str
    description: str
    #: Base share of sponsors with this typology (before sector weighting).
    share: float
    #: Share of the sponsor's migrants affected once the abuse runs (0..1).
    strength: float
    #: Median months the abuse lasts once started.
    duration_months: float
    #: Probability that an inspection during the abuse finds it.
    detection: float
    #: The finding an inspection records when it finds it.
    finding: str
    #: Probability that a found violation leads to revocation of the recognition.
    revocation: float
    #: Extra sector weights on top of :attr:`Sector.abuse_weight` (sector name -> factor).
    sector_weights: dict[str, float] = field(default_factory=dict)
    #: What a feature can see, for the documentation.
    traces: str = ""


TYPOLOGIES: tuple[Typology, ...] = (
    Typology(
        "underpayment", "wage paid below the criterion while the declared salary met it",
        share=0.022, strength=0.6, duration_months=40, detection=0.7, finding="UNDERPAYMENT",
        revocation=0.45, sector_weights={"restaurants": 1.4, "hair_beauty": 1.4,
                                        "agriculture": 1.3, "ict": 0.6, "research": 0.5},
        traces="payroll months below the threshold in force, no SALARY_BELOW_CRITERION "
               "notification, paid wage far under the declared salary"),
    Typology(
        "salary_repayment", "migrant pays part of the salary back (kickback)",
        share=0.02, strength=0.9, duration_months=60, detection=0.35,
        finding="SALARY_REPAYMENT", revocation=0.55,
        sector_weights={"hair_beauty": 1.3, "restaurants": 1.2, "wholesale": 1.2},
        traces="declared and paid wages bunched just above the threshold, moving only when "
               "the threshold is indexed (no raises)"),
    Typology(
        "paper_jobs", "permit mill: jobs on paper only",
        share=0.013, strength=0.7, duration_months=36, detection=0.6,
        finding="NO_GENUINE_JOB", revocation=0.8,
        sector_weights={"staffing": 1.6, "business_services": 1.3, "construction": 1.3,
                        "research": 0.3},
        traces="many permits, short tenures, months without payroll while the permit runs, "
               "some permits never paid, ends not reported"),
    Typology(
        "shell", "shell sponsor: little business beyond the migrant",
        share=0.012, strength=1.0, duration_months=120, detection=0.65,
        finding="NO_GENUINE_JOB", revocation=0.8,
        sector_weights={"business_services": 1.6, "ict": 1.4, "wholesale": 1.3,
                        "restaurants": 0.5, "research": 0.2},
        traces="young company, tiny workforce equal to its migrants, a migrant is director "
               "or owner, total wage bill equal to the migrants' wages"),
    Typology(
        "notification_failure", "does not report ends of employment (or very late)",
        share=0.02, strength=0.6, duration_months=48, detection=0.75,
        finding="NOTIFICATION_FAILURE", revocation=0.15,
        traces="payroll of a migrant stops without EMPLOYMENT_ENDED, or it is filed "
               "months after the event"),
    Typology(
        "phoenix", "successor of a sponsor whose recognition was revoked",
        share=0.01, strength=1.0, duration_months=120, detection=0.5,
        finding="OTHER", revocation=0.7,
        traces="shares an officer or the registered address with a sponsor whose "
               "recognition was REVOKED before it was recognised"),
)

TYPOLOGY_NAMES: tuple[str, ...] = tuple(t.name for t in TYPOLOGIES)

#: Typologies that travel together (a mill rarely reports ends): typology -> (other, chance).
CO_OCCURRENCE: tuple[tuple[str, str, float], ...] = (
    ("paper_jobs", "notification_failure", 0.5),
    ("shell", "salary_repayment", 0.35),
    ("underpayment", "notification_failure", 0.25),
)


_BY_NAME: dict[str, Typology] = {t.name: t for t in TYPOLOGIES}
_SECTOR_BY_NAME: dict[str, Sector] = {s.name: s for s in SECTORS}


def typology(name: str) -> Typology:
    """The typology called ``name`` (KeyError naming the known ones otherwise)."""
    if name not in _BY_NAME:
        raise KeyError(f"unknown typology {name!r}; known: {', '.join(TYPOLOGY_NAMES)}")
    return _BY_NAME[name]


def sector_of_sbi(code: str) -> str:
    """Sector name of an SBI code the simulator uses ('' for others)."""
    for s in SECTORS:
        if code in s.sbi_codes:
            return s.name
    return ""
