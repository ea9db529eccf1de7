"""The client side of the service, one surface per place.

A surface of several modules is a package, a surface of one module is a module here:

- ``cli/``: the `breach` command line: ``app`` builds it, ``console`` is what every command
  shares (consoles, the one error exit, the clients), one module per command group;
- ``intake/``: the intake routes (filing, HTTP API and its tokens, spool, file drop, batch);
- ``tracking/``: the Appendix A tracking reports from the register;
- ``stack``: `breach up`, the whole service on one machine;
- ``exercise``: tabletop exercises in accelerated time;
- ``codec_server``: the payload codec the Temporal Web UI decodes through;
- ``signing``: operator keys and decision signatures;
- ``decisions``: sending a signed decision to a case (CLI, exercises, benchmarks).

Imports go one way: ``cli`` uses the others, nothing imports ``cli``
(tests/test_layering.py fails on any import cycle in the project).
"""
