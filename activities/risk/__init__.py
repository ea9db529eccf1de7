"""Risk-of-harm assessment (plan Attachment A): plain, pure Python, no Temporal.

A Temporal activity wraps ``assess``; the CLI preview calls it directly. Public API:
``load_policy`` (versioned policy files), ``suggest`` (pre-filled ratings), ``assess``
(the scored, self-contained ``RiskAssessment``) and ``render_markdown`` (its document).
"""

from .document import render_markdown
from .engine import AnswersRefused, assess, check_answers, score, suggest
from .policy import Policy, PolicyError, available_versions, load_policy

__all__ = [
    "AnswersRefused",
    "Policy",
    "PolicyError",
    "assess",
    "available_versions",
    "check_answers",
    "load_policy",
    "render_markdown",
    "score",
    "suggest",
]
