"""docker-compose.yml cannot run here (no Docker engine), so this test holds it to the
project's settings: services present, ports and environment names in agreement."""

from __future__ import annotations

from urllib.parse import urlparse

import yaml

from tests.support import REPO
from worker.config import Settings

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DEFAULTS = Settings.model_fields


def host_port(service: str) -> tuple[int, int]:
    (mapping,) = SERVICES[service]["ports"]
    host, container = mapping.rsplit(":", 2)[-2:]
    return int(host), int(container)


def test_services_of_the_production_stack():
    assert {"temporal-db", "temporal", "temporal-ui", "register-db", "worker", "codec-server"} <= set(SERVICES)
    assert SERVICES["temporal"]["environment"]["DB"].startswith("postgres")
    assert SERVICES["temporal"]["environment"]["POSTGRES_SEEDS"] == "temporal-db"
    assert SERVICES["worker"]["deploy"]["replicas"] >= 2
    assert "ports" not in SERVICES["worker"], "workers poll Temporal; they expose nothing"


def test_every_breach_variable_is_a_setting():
    for name in ("worker", "codec-server"):
        env = SERVICES[name]["environment"]
        for var in env:
            assert var.startswith("BREACH_")
            assert var.removeprefix("BREACH_").lower() in DEFAULTS, f"{name}: {var} is not a setting"


def test_ports_agree_with_settings():
    assert host_port("temporal") == (DEFAULTS["temporal_port"].default, 7233)
    assert host_port("temporal-ui")[0] == DEFAULTS["ui_port"].default
    codec = DEFAULTS["codec_port"].default
    assert host_port("codec-server") == (codec, codec)
    env = SERVICES["worker"]["environment"]
    assert int(env["BREACH_CODEC_PORT"]) == codec
    assert urlparse(SERVICES["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"]).port == codec
    assert urlparse(env["BREACH_UI_URL"]).port == host_port("temporal-ui")[0]
    assert SERVICES["temporal-ui"]["environment"]["TEMPORAL_CORS_ORIGINS"] == env["BREACH_UI_URL"]


def test_services_point_at_each_other():
    env = SERVICES["worker"]["environment"]
    temporal_host, temporal_port = env["BREACH_TEMPORAL_ADDRESS"].split(":")
    assert temporal_host in SERVICES and int(temporal_port) == 7233
    assert SERVICES["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == env["BREACH_TEMPORAL_ADDRESS"]
    db = urlparse(env["BREACH_DATABASE_URL"].replace("${REGISTER_DB_PASSWORD:-breach}", "pw"))
    assert db.scheme == "postgresql+psycopg" and db.hostname in SERVICES
    assert db.path.lstrip("/") == SERVICES[db.hostname]["environment"]["POSTGRES_DB"]
    assert env["BREACH_TASK_QUEUE"] == DEFAULTS["task_queue"].default
    assert SERVICES["worker"]["command"] == ["worker"] and SERVICES["codec-server"]["command"][0] == "codec-server"
