"""Fitting and applying the risk model: labels from inspections (``labels``), time folds
with a gap (``splits``), the training set (``dataset``, ``feature_meta``), XGBoost and the
baselines (``models``, ``crude_rule``), selection corrections (``selection``), calibration,
the fitted :class:`~training.fitting.model.RiskModel` with its reasons (``model``), training
and evaluation (``train``, ``metrics``, ``evaluation``, ``plots``), the settings search
(``tune``), and scoring a snapshot into the score store (``scoring``). Knows nothing of
MLflow, fairness or plans."""
