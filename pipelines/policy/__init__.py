"""Closed-loop policy simulation: inspection policies run year after year on a simulated
world, each retraining on the inspections it caused, compared against the truth.

``run_policy_simulation(LoopConfig(...))`` runs them; :mod:`.report` summarises, checks,
draws and logs the results. ``sponsorwatch simulate-policy`` and
``benchmarks/bench_policy.py`` call both.
"""

from pipelines.policy.config import LoopConfig, Policy
from pipelines.policy.loop import PolicyRun, SeedRun, run_policy_simulation, run_seed

__all__ = ["LoopConfig", "Policy", "PolicyRun", "SeedRun", "run_policy_simulation",
           "run_seed"]
