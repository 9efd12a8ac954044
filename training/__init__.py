"""The abuse-risk model, from labels to a defended ranking, in five parts layered one way
(a part imports only the parts listed after it; the import contract in pyproject.toml
checks it):

* ``training.jobs``: a training, tuning, scoring or audit run end to end, as the command
  line, the MLflow project and the notebooks start them.
* ``training.planning``: inspection plans with a random slice, and what their inspections
  say (inverse-propensity estimates).
* ``training.registry``: MLflow runs, the registered model and its aliases, and the
  promotion gates.
* ``training.governance``: the fairness audit, proxy check, gap attribution and the model
  card.
* ``training.fitting``: labels, time splits, the XGBoost model and its baselines,
  calibration, evaluation, tuning and scoring.
"""
