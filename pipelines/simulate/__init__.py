"""The sponsor-world simulator: a realistic world of recognised sponsors, in contract shape.

``simulate_world`` returns the seven contract tables plus ``truth`` as DataFrames;
``write_world`` writes them as Parquet (payroll and workforce as folders of parts) with a
calibration report beside them. The typologies and look-alikes are declared as data in
``pipelines.simulate.typologies``.
"""

from pipelines.simulate.output import write_world
from pipelines.simulate.world import (
           DEFAULT_END,
           DEFAULT_START,
           World,
           generate_world,
           simulate_world,
)

__all__ = ["DEFAULT_END", "DEFAULT_START", "World", "generate_world", "simulate_world",
           "write_world"]
