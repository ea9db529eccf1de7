"""Notifying individuals (plan: Notifying individuals; issue #5): letters, rosters, the
mail-house export, previews, on-demand letters and returned mail.

Modules, one concept each (import what you need; this package imports nothing, so a
roster reader process does not load Temporal, Jinja2 or the PDF library):

* ``letters``: the Jinja2 template set, its languages, rendering;
* ``letter_check``: the seven elements every letter must contain, and the template check;
* ``samples``: fixed fake recipients and facts for the check and previews;
* ``roster``: roster references (URI + sha256) and streaming rows;
* ``person``: what a row must hold (``RowParser``, ``Person``) and who gets the letter;
* ``person_key``: the keyed digest that merges duplicate records, and its per-breach secret;
* ``batch``: a batch of rows turned into export lines (column-wise fast path, per-row rules);
* ``reader``: prepared batches, in process or from a reader process beside the export;
* ``workdb``: the round's work database (seen persons, progress) for exactly once and resume;
* ``export``: one notification round end to end, checkpointed and resumable;
* ``round_files``: the CSV files a round grows, cut back and appended on resume;
* ``tally``: the round's counts, one counter small enough for every checkpoint;
* ``closing``: a finished round's final files, notices and manifest;
* ``round_errors``: why a round cannot go on (retryable or not);
* ``files``: confined paths, whole files with their ``FileRef``, the round's lock and layout;
* ``preview``: letters as PDF (approvers' preview, single letters);
* ``lookup``: a finished round after the fact (on-demand letters);
* ``returned``: returned mail and its secondary notice;
* ``activities``: the Temporal activities (``NotifyActivities``).
"""
