"""MLflow as the model registry: where runs are tracked (``tracking``), one training as a
run with its registered model (``runs``, ``pyfunc``), models and cards read back
(``loading``, ``cards``), and promotion from ``challenger`` to ``champion`` through the
gates (``promotion``, ``fairness_gate``). mlflow is imported inside functions only, so
serving can import the loader without paying for it at start-up."""
