"""Inspection planning: plans for a capacity with a random slice and known selection
chances (``design``), inverse-propensity estimates of what the inspections found
(``estimates``), and their coverage on a simulated world (``coverage``)."""
