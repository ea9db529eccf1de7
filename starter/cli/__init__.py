"""`breach`: the operators' command line (built in ``starter/cli/app.py``).

Every command reads the same ``BREACH_*`` settings as the worker, talks to Temporal
through the same encrypted data converter, and turns expected failures into one
readable line and a non-zero exit code, never a traceback (``console.fail``).

One module per command group: ``service`` (up, worker, codec-server, payload-key),
``intake`` (report, import, token), ``cases`` (list, show, watch), ``decisions`` (one
command per decision), ``risk``, ``exercise``, ``chart``, ``notify`` (letter,
returned-mail, notify-retry), ``audit``, ``tracking``, ``operators``. Each imports
``console`` (consoles, the error exit, the clients) and no other command module; only
``app`` imports the command modules. This file imports nothing, so importing
``starter.cli.console`` does not build the whole CLI.
"""
