"""Runs end to end, as the command line, the MLflow project and the notebooks start them:
training (``train``, with ``documentation`` for its fairness audit and model card),
tuning (``tune``), scoring (``score``) and the audit of a score snapshot (``audit``)."""
