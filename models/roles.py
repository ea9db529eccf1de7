"""The roles of breach response (DECISIONS.md): who may make which decision."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    reporter = "reporter"
    program_office = "program_office"
    cms_sop = "cms_sop"
    cms_ciso = "cms_ciso"
    cms_brt = "cms_brt"
    contracting_officer = "contracting_officer"
    contractor = "contractor"
    hhs_csirc = "hhs_csirc"
    hhs_pim = "hhs_pim"
    hhs_saop = "hhs_saop"
    hhs_brt = "hhs_brt"
    hhs_asl = "hhs_asl"
    hhs_aspa = "hhs_aspa"
    notifying_official = "notifying_official"
