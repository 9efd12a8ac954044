"""Cases (issue 18): a sponsor taken from the ranked list, a sponsor page or a plan's pick
through review, dismissal or inspection to an outcome, with owner, due date, four-eyes
approval and an append-only event log; closed cases become contract inspections.

``models`` holds the tables (created by ``serving.db.create_schema`` once this package is
imported, which ``serving.routes.cases`` does), ``workflow`` the state machine,
``queue`` the analysts' queue, ``export`` the contract rows and ``migrate`` the move of the
earlier reviews into cases.
"""
