"""One CLI command per decision of DECISIONS.md, generated from the workflow's decision table.

Each command's options are the fields of the decision's payload model (the table's
``payload``, models/decisions.py) and its help names the table's ``roles``, so the CLI can
never drift from what the workflow accepts. Every decision is signed with the operator's
private key before it is sent; a refusal prints the case's reason (never a traceback).
The worker puts refusals on the audit trail, whichever client sent the decision.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import typer
from pydantic import BaseModel, ValidationError

from models.decisions import Actor, Decision, DecisionRefused, Role
from models.operators import read_roster
from starter.cli.console import client, err, fail, out, workflow_id
from starter.decisions import DecisionNotDelivered, submit
from starter.signing import key_file_for, load_key, sign
from worker.config import Settings
from workflows.decision_table import DECISIONS

HELP: dict[str, tuple[str, str]] = {
    "confirm_pii": ("Confirm whether the breached data is PII (and federal data); not PII closes the case as documented.", "breach confirm-pii CASE --is-pii --federal-data --as 'Sam Ortiz' --role cms_sop --why 'claims extract'"),
    "co_acknowledge": ("The Contracting Officer records that they are engaged (contractor cases).", "breach co-acknowledge CASE --as 'Chris Lee' --role contracting_officer"),
    "co_request_information": ("The CO asks the contractor for information or forensic artifacts; starts the response clock.", "breach co-request-information CASE --request 'laptop encryption logs' --as 'Chris Lee' --role contracting_officer"),
    "co_record_contractor_response": ("The CO records the contractor's answer; artifacts are references, never contents.", "breach co-record-contractor-response CASE --summary 'logs supplied' --artifacts TICKET-42 --as 'Chris Lee' --role contracting_officer"),
    "co_complete_review": ("The CO completes the contract review; the risk assessment follows.", "breach co-complete-review CASE --contractor-cooperated --obligations 'FAR 52.224-3' --as 'Chris Lee' --role contracting_officer"),
    "submit_risk_assessment": ("Submit the risk-of-harm assessment (factor ratings with rationale, as a JSON or TOML answers file).", "breach submit-risk-assessment CASE --answers answers.json --as 'Sam Ortiz' --role cms_sop"),
    "determine_major_incident": ("Propose (or decline) a major-incident determination; the HHS SAOP approves it.", "breach determine-major-incident CASE --is-major --rationale 'national security data' --as 'Sam Ortiz' --role cms_sop"),
    "approve_major_incident": ("The HHS SAOP approves the major-incident proposal: the CISA/OMB and Congress clocks start.", "breach approve-major-incident CASE --as 'Alex Kim' --role hhs_saop"),
    "reject_major_incident": ("The HHS SAOP rejects the major-incident proposal.", "breach reject-major-incident CASE --comments 'no demonstrable harm' --as 'Alex Kim' --role hhs_saop"),
    "approve_response_plan": ("CMS approves the response plan and draft letters; HHS approval follows.", "breach approve-response-plan CASE --as 'Robin Diaz' --role cms_brt"),
    "reject_response_plan": ("CMS returns the response plan to drafting with comments.", "breach reject-response-plan CASE --comments 'name the call-center hours' --as 'Robin Diaz' --role cms_brt"),
    "approve_notification": ("HHS approves the notification: method, Notifying Official, services, languages.", "breach approve-notification CASE --method first_class_mail --notifying-official 'CMS Administrator' --services credit_monitoring --languages en --languages es --as 'Alex Kim' --role hhs_saop"),
    "reject_notification": ("HHS rejects the notification materials; the case returns to CMS approval.", "breach reject-notification CASE --comments 'add TDD number' --as 'Alex Kim' --role hhs_saop"),
    "approve_outbound_report": ("Approve a major-incident report (cisa_omb, congress_oig, supplemental_30d); Congress reports also need hhs_asl.", "breach approve-outbound-report CASE --kind cisa_omb --as 'Dana Brooks' --role hhs_brt"),
    "delay_notification": ("Record a law-enforcement or national-security hold on notification (oral holds lapse after 30 days).", "breach delay-notification CASE --until 2027-01-15T00:00:00-05:00 --authority 'FBI Baltimore' --written --as 'Alex Kim' --role hhs_saop"),
    "lift_delay": ("Lift the hold on notification; paused clocks resume.", "breach lift-delay CASE --as 'Alex Kim' --role hhs_saop"),
    "pim_approve_closure": ("HHS PIM approves closing a low-risk case.", "breach pim-approve-closure CASE --as 'Pat Kim' --role hhs_pim"),
    "pim_request_more_info": ("HHS PIM asks the agency for more information or mitigation.", "breach pim-request-more-info CASE --request 'confirm deletion in writing' --as 'Pat Kim' --role hhs_pim"),
    "respond_to_pim": ("The agency answers PIM's request.", "breach respond-to-pim CASE --response 'written confirmation attached as TICKET-7' --as 'Sam Ortiz' --role cms_sop"),
    "new_information": ("Record new facts: more individuals, more data elements, evidence of misuse (may reopen the assessment).", "breach new-information CASE --individuals-delta 5000 --data-elements-added ssn --as 'Sam Ortiz' --role cms_sop"),
    "record_notification_sent": ("The Notifying Official records that the notices went out.", "breach record-notification-sent CASE --individuals-notified 151204 --media-notice --as 'Jordan Wu' --role notifying_official"),
    "update_operators": ("Replace the operators registered for a running case (from an operators file); signed by the CMS SOP.", "breach update-operators CASE --operators-file operators.yaml --as 'Sam Ortiz' --role cms_sop"),
}

COMMON = [
    inspect.Parameter("case", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[str, typer.Argument(help="Breach id or workflow id.")]),
    inspect.Parameter("as_name", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[str, typer.Option("--as", help="Your name, as in the operators file.")]),
    inspect.Parameter("role", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[Role, typer.Option(help="The role you act in.")]),
    inspect.Parameter("why", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[str | None, typer.Option(help="Your reason, recorded with the decision.")]),
    inspect.Parameter("decision_id", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[str | None, typer.Option(help="Id that makes a retried submission apply once (default: a new one).")]),
    inspect.Parameter("key", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[Path | None, typer.Option(help="Your private key (default: <BREACH_OPERATOR_KEY_DIR>/<name>.pem).")]),
    inspect.Parameter("json_out", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]),
]


def _option_type(annotation: Any) -> tuple[Any, bool]:
    """The CLI type for a payload field, and whether it is a file to read (nested models)."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    base = args[0] if get_origin(annotation) is not list and args and len(args) == 1 else annotation
    if get_origin(base) is list:
        inner = get_args(base)[0]
        return list[str] if not (isinstance(inner, type) and issubclass(inner, BaseModel)) else Path, isinstance(inner, type) and issubclass(inner, BaseModel)
    if isinstance(base, type) and issubclass(base, BaseModel):
        return Path, True
    if base in (bool, int, str):
        return base, False
    if isinstance(base, type) and issubclass(base, Enum):
        return str, False
    if base is datetime or str(base).endswith("AwareDatetime]") or "datetime" in str(base).lower():
        return str, False
    return str, False


def _field_params(model: type[BaseModel]) -> tuple[list[inspect.Parameter], dict[str, bool]]:
    params, files = [], {}
    for name, field in model.model_fields.items():
        kind, is_file = _option_type(field.annotation)
        files[name] = is_file
        flag = f"--{name.replace('_', '-')}" + ("-file" if is_file else "")
        help_text = (field.description or name.replace("_", " ")) + (" (JSON or YAML file)" if is_file else "")
        if kind is bool:
            option = typer.Option(f"{flag}/--no-{name.replace('_', '-')}", help=help_text)
            annotation = Annotated[bool | None, option]
        elif kind == list[str]:
            annotation = Annotated[list[str] | None, typer.Option(flag, help=help_text + " (repeat for several)")]
        else:
            annotation = Annotated[kind | None, typer.Option(flag, help=help_text)]
        params.append(inspect.Parameter(f"p_{name}", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
    return params, files


def _read_structured(path: Path) -> Any:
    import tomllib

    import yaml

    text = path.read_text()
    if path.suffix == ".toml":
        return tomllib.loads(text)
    return yaml.safe_load(text)


def _payload(name: str, values: dict[str, Any], files: dict[str, bool]) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for field, value in values.items():
        if value is None or value == []:
            continue
        if files[field]:
            doc = _read_structured(value)
            payload[field] = doc.get(field, doc) if isinstance(doc, dict) and name == "update_operators" else doc
        else:
            payload[field] = value
    return payload


def make_command(name: str):
    row = DECISIONS[name]
    field_params, files = _field_params(row.payload)
    summary, example = HELP[name]

    def command(**kwargs: Any) -> None:
        settings = Settings()
        case = workflow_id(kwargs["case"])
        values = {k.removeprefix("p_"): v for k, v in kwargs.items() if k.startswith("p_")}
        try:
            payload = _payload(name, values, files)
            row.payload.model_validate(payload)
        except (ValidationError, OSError, ValueError) as exc:
            raise fail(f"{name}: {exc}") from None
        actor = Actor(name=kwargs["as_name"], role=kwargs["role"])
        roster_entry = read_roster(settings.operators_path).get(actor.name)
        if roster_entry is not None and actor.role not in roster_entry.roles:
            err.print(f"[yellow]warning:[/] {actor.name} holds {', '.join(r.value for r in roster_entry.roles)} in {settings.operators_path}, not {actor.role.value}", highlight=False)
        try:
            key = load_key(kwargs["key"] or key_file_for(settings.operator_keys, actor.name))
        except ValueError as exc:
            raise fail(str(exc)) from None
        decision = Decision(decision_id=kwargs["decision_id"] or uuid.uuid4().hex, actor=actor, rationale=kwargs["why"], payload=payload)
        decision = sign(decision, case=case, decision_name=name, key=key)

        async def send():
            temporal = await client(settings)
            return await submit(temporal.get_workflow_handle(case), name, decision)

        try:
            outcome = asyncio.run(send())
        except DecisionNotDelivered as exc:
            # Not a refusal: the case may not have seen it, and the same decision id applies once.
            raise fail(f"not delivered: {exc}. Whether the case applied it is unknown; send the same command again with --decision-id {decision.decision_id} (it applies once)", 3) from None
        except DecisionRefused as exc:
            if kwargs["json_out"]:
                out.print_json(json.dumps({"accepted": False, "decision": name, "decision_id": decision.decision_id, "reason": str(exc)}))
                raise typer.Exit(1) from None
            raise fail(f"refused: {exc}", 1) from None
        if kwargs["json_out"]:
            out.print_json(json.dumps({"accepted": True, **outcome.model_dump(mode="json")}))
        else:
            out.print(f"accepted: {name} ({outcome.decision_id}); stage now {outcome.stage}: {outcome.message}", highlight=False)

    command.__signature__ = inspect.Signature([*COMMON, *field_params])
    command.__doc__ = f"{summary}\n\nWho: {', '.join(sorted(r.value for r in row.roles))}.\n\nExample: {example}"
    command.__name__ = name
    return command


def register(app: typer.Typer) -> None:
    for name in DECISIONS:
        app.command(name.replace("_", "-"), rich_help_panel="Decisions")(make_command(name))
