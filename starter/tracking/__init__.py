"""Tracking reports from the register (the plan's Appendix A, "Tracking and documenting").

Per breach: status (ongoing / concluded), number of individuals potentially affected,
types of information, whether individuals were notified, whether services were
provided, whether it was reported to CISA and/or Congress; totals over a period; the
SOP's quarterly review of every breach of the fiscal year; the annual summary.

Conventions (stated in every report):
- A breach belongs to a period by the time its case was opened (``opened_at``), in
  ``[from, to)``; period boundaries are at 00:00 UTC.
- The federal fiscal year starts on 1 October: FY2027 is 2026-10-01 to 2027-09-30 and
  its Q1 is 2026-10-01 to 2026-12-31.
- The quarterly review lists every breach opened from the start of the fiscal year to
  the end of the quarter, with its status at the end of the quarter (concluded when the
  case closed before then). The other fields are as the register holds them when the
  report is made: the register keeps their current value, not their history.
- Services count as provided when the individuals were notified (services are offered
  with the notification) and the approved notification named at least one service.

The package: ``periods`` (fiscal years and quarters, dates), ``reports`` (the breaches as
the template tracks them, their totals, and the three reports), ``formats`` (JSON and
CSV). All of it is pure over a Session (no Temporal, no globals), so reports are
reproducible and testable; the command line is ``starter/cli/tracking.py``.
"""
