"""Custom search attributes of a breach case: what the Web UI and `breach list` filter on.

None of them may hold personal data of affected individuals.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

BREACH_STAGE = SearchAttributeKey.for_keyword("BreachStage")
RISK_LEVEL = SearchAttributeKey.for_keyword("RiskLevel")
SYSTEM_ID = SearchAttributeKey.for_keyword("SystemId")
AFFECTED_INDIVIDUALS = SearchAttributeKey.for_int("AffectedIndividuals")
MAJOR_INCIDENT = SearchAttributeKey.for_bool("MajorIncident")
CONTRACTOR_INVOLVED = SearchAttributeKey.for_bool("ContractorInvolved")
HIPAA_COVERED = SearchAttributeKey.for_bool("HipaaCovered")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")

ALL = (
    BREACH_STAGE,
    RISK_LEVEL,
    SYSTEM_ID,
    AFFECTED_INDIVIDUALS,
    MAJOR_INCIDENT,
    CONTRACTOR_INVOLVED,
    HIPAA_COVERED,
    NEXT_DEADLINE,
)
