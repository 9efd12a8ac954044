"""What makes a model defensible: the fairness audit of a ranking (``groups``: the only
reader of the restricted nationality field; ``disparity``: rates, intervals, four-fifths
ratios and gap attribution; ``proxy``: proxy check and bias scan; ``audit`` and
``audit_report``: the audit and its report; ``snapshot_audit``: the audit of a score
snapshot in use) and the model card (``model_card``, ``card_markdown``). Computes and
writes files; MLflow clients and models are handed in, never looked up."""
