"""The ``sponsorwatch`` command line: the top layer, above ``pipelines``, ``serving``,
``training`` and ``features``. ``cli.main:app`` is the entry point; each stage's commands
live in a module of their own (``cli.ingest``, ``cli.training``, ...) and import their
layer's code inside the command bodies, so ``--help`` stays fast."""
