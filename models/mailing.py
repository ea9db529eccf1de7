"""The words of a mailing (who a letter is for, how it travels, which round it is).

Why a module of its own: the roster reader process (activities/notify/reader.py) needs
these and nothing else from the models; importing them from ``models.notification``
would load pydantic and every model, a tenth of a second added to each export's start.
Standard library only.
"""

from __future__ import annotations

from enum import StrEnum

BASE_LANGUAGE = "en"  # letters are written in English when the requested language has no template or translation


class LetterVariant(StrEnum):
    """Who the letter is addressed to (plan: Special considerations)."""

    adult = "adult"  # the affected individual
    guardian = "guardian"  # the parent or guardian of a minor
    estate = "estate"  # the estate or next of kin of a deceased individual


class DeliveryMethod(StrEnum):
    """How one recipient is reached (Attachment C). E-mail only to .gov/.mil with HHS BRT approval."""

    first_class_mail = "first_class_mail"
    email = "email"


class LetterKind(StrEnum):
    initial = "initial"
    follow_up = "follow_up"  # a later round: a material change (plan: Follow-up notifications)
