"""What a closed-loop policy simulation compares: the policies, the worlds (sponsors and
seeds), the years, the capacity and the training window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

#: How a policy ranks the sponsors it plans from.
Ranking = Literal["model", "crude_rule"]

#: The random shares compared by default, and the crude rule's (the same as one of the
#: tool's, so that the two rankings meet on equal terms).
DEFAULT_RANDOM_SHARES = (0.0, 0.05, 0.1, 0.2)
DEFAULT_CRUDE_RANDOM_SHARE = 0.1


@dataclass(frozen=True)
class Policy:
    """A way of choosing the year's inspections: a ranking and a random share of the
    capacity drawn uniformly from the sponsors outside the risk-based top."""

    ranking: Ranking
    random_share: float

    @property
    def name(self) -> str:
        return f"{self.ranking}-r{round(self.random_share * 100):02d}"

    @property
    def retrains(self) -> bool:
        """Whether the policy's ranking learns from the inspections it caused."""
        return self.ranking == "model"


@dataclass(frozen=True)
class LoopConfig:
    """Everything that decides a policy simulation besides the code.

    ``capacity`` below 1 is a share of the sponsors active on each scoring day (so it
    scales with ``sponsors``); 1 or more is a fixed number of inspections a year.
    """

    sponsors: int = 12_000
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    first_year: int = 2021
    years: int = 5
    capacity: float = 0.025
    random_shares: tuple[float, ...] = DEFAULT_RANDOM_SHARES
    crude_random_share: float | None = DEFAULT_CRUDE_RANDOM_SHARE
    #: The world starts three years before the loop, so the first champion (trained on
    #: 1 January of the first year) has labelled snapshots a horizon apart for its folds.
    world_start: date = date(2018, 1, 1)
    world_end: date = date(2025, 12, 31)
    #: Feature snapshots every quarter from this day; training keeps the latest
    #: ``max_train_dates`` labelled ones (three years of quarters).
    first_snapshot: date = date(2018, 7, 1)
    every: str = "quarter"
    max_train_dates: int = 12
    horizon_months: int = 12
    #: Prequential folds per training: the gate needs only the latest (the holdout).
    n_folds: int = 1
    top_k: int = 100
    use_sector: bool = False
    workers: int = 2
    policies_only: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.sponsors < 1:
            raise ValueError(f"sponsors must be at least 1, got {self.sponsors}")
        if not self.seeds:
            raise ValueError("at least one seed is needed")
        if self.years < 1:
            raise ValueError(f"years must be at least 1, got {self.years}")
        if self.capacity <= 0:
            raise ValueError(f"capacity must be positive, got {self.capacity}")
        shares = [*self.random_shares, *([self.crude_random_share]
                                         if self.crude_random_share is not None else [])]
        if any(not 0.0 <= s <= 1.0 for s in shares):
            raise ValueError(f"random shares must lie in [0, 1], got {shares}")
        if date(self.last_year, 12, 31) > self.world_end:
            raise ValueError(f"the world ends {self.world_end}, before the loop's last year "
                             f"{self.last_year}")
        if date(self.first_year, 1, 1) <= self.world_start:
            raise ValueError(f"the loop starts {self.first_year}, not after the world's start "
                             f"{self.world_start}")

    @property
    def last_year(self) -> int:
        return self.first_year + self.years - 1

    @property
    def loop_years(self) -> list[int]:
        return list(range(self.first_year, self.last_year + 1))

    @property
    def loop_start(self) -> date:
        return date(self.first_year, 1, 1)

    def policies(self) -> list[Policy]:
        """The tool's model at every random share, then the crude rule (if any)."""
        chosen = [Policy("model", s) for s in self.random_shares]
        if self.crude_random_share is not None:
            chosen.append(Policy("crude_rule", self.crude_random_share))
        if self.policies_only:
            chosen = [p for p in chosen if p.name in self.policies_only]
        return chosen

    def capacity_for(self, active: int) -> int:
        """Inspections in a year with ``active`` sponsors to choose from."""
        count = round(self.capacity * active) if self.capacity < 1 else round(self.capacity)
        return max(1, min(int(count), active))

    def describe_capacity(self) -> str:
        return (f"{self.capacity:.1%} of the sponsors active on 1 January"
                if self.capacity < 1 else f"{int(self.capacity)} inspections a year")
