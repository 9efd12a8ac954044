"""Model health over time (issue 19): how the inputs, the scores and, as outcomes arrive,
the model's precision and calibration on RANDOM inspections move from one scoring snapshot
to the next, against the champion's training window, and which moves breach the alert
thresholds.

Pure computation: every function takes frames and returns frames or JSON-ready dicts.
Reading the stores, the model and MLflow is ``training.jobs.monitor``'s work.

- ``drift``: per feature the population stability index, a two-sample Kolmogorov-Smirnov
  test and null shares, against the training window and against the previous snapshot;
- ``inputs``: the raw deliveries received since the previous snapshot (empty columns,
  permit applications by sector) and the salary criterion table's coverage;
- ``outcomes``: precision at k and calibration on RANDOM inspections, label delay;
- ``report``: the thresholds, the whole snapshot report and its alerts;
- ``store``: reports as JSON files, one per snapshot, written atomically.
"""
