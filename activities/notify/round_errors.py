"""Why a notification round cannot go on.

One family for every part of a round (its engine in ``export``, its growing files in
``round_files``): the activity turns each into a Temporal failure in one place, with
``retryable`` deciding whether Temporal tries again, and no part has to import the engine
to raise one.
"""

from __future__ import annotations


class ExportError(Exception):
    """A round that cannot go on; ``retryable`` says whether trying again can help."""

    retryable = False


class RequestConflict(ExportError):
    """The round was started (or finished) with a different request."""


class RoundBusy(ExportError):
    retryable = True
