"""Notifying individuals (plan: Notifying individuals; issue #5): letters, rosters, the
mail-house export, previews, on-demand letters and returned mail.

Modules, one concept each (import what you need; this package imports nothing, so a
roster reader process does not load Temporal, Jinja2 or the PDF library):

* ``letters``: Jinja2 templates, one block per required element, and their check;
* ``roster``: roster references (URI + sha256), streaming rows, row rules, person keys;
* ``batch``: a batch of rows turned into export lines (column-wise fast path, per-row rules);
* ``reader``: prepared batches, in process or from a reader process beside the export;
* ``workdb``: the round's work database (seen persons, progress) for exactly once and resume;
* ``export``: one notification round end to end, checkpointed and resumable;
* ``preview``: letters as PDF (approvers' preview, single letters);
* ``lookup``: a finished round after the fact (on-demand letters);
* ``returned``: returned mail and its secondary notice;
* ``activities``: the Temporal activities (``NotifyActivities``).
"""
