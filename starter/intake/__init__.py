"""Intake: every route by which a breach report becomes a case, all on one contract.

- ``filing``: validating a report and starting (or finding) its case: the one code path
  every route below goes through, and the CLI's `breach report`;
- ``service``: what the HTTP API, the spool drainer and the file drop share (one client,
  the inventory, the tokens, the spool);
- ``http_api``: the HTTP API over the service (FastAPI), with ``tokens``, its bearer tokens;
- ``spool``: reports accepted while Temporal was away, kept on disk until filed;
- ``filedrop``: the watched inbox folder;
- ``batch``: JSON Lines and CSV imports (`breach import`).

The commands that drive these (`breach report`, `breach import`, `breach token`) are in
``starter/cli/intake.py``; `breach up` runs the API, the drainer and the inbox poller.
"""
