"""One Settings object, read from ``FANZHA_*`` environment variables and passed in, never global.

Every field here must be listed in ``docs/settings.md`` (a test checks it).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration of one Fanzha process."""

    model_config = SettingsConfigDict(env_prefix="FANZHA_", extra="ignore")

    data_dir: Path = Field(
        default=Path("fanzha-data"),
        description="Folder for the embedded profile: the event lake and the SQLite store.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the operational store; empty means SQLite under data_dir.",
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        description="Zone for timestamps without an offset and for day partitions of the lake.",
    )
    iso20022_xsd_dir: Path | None = Field(
        default=None,
        description="Folder of official ISO 20022 XSD files; when set every message is validated.",
    )
    batch_size: int = Field(
        default=65_536,
        ge=1,
        description=(
            "Records per ingestion micro-batch (text files are read in chunks of about 128"
            " bytes per record); memory is bounded by this, not by file size."
        ),
    )
    max_field_bytes: int = Field(
        default=65_536,
        ge=64,
        description="Longest accepted text field in bytes; longer values are dead-lettered.",
    )
    max_record_bytes: int = Field(
        default=1_048_576,
        ge=256,
        description="Longest accepted raw record (line) in bytes; longer ones are dead-lettered.",
    )
    dead_letter_keep_bytes: int = Field(
        default=1_048_576,
        ge=256,
        description="At most this many original bytes are kept per dead letter (the rest is cut).",
    )
    max_upload_bytes: int = Field(
        default=1_073_741_824,
        ge=1024,
        description="Largest accepted HTTP ingest body in bytes (streamed to disk, not memory).",
    )
    org_file: Path | None = Field(
        default=None,
        description=(
            "Org file (YAML) over the registry's units: places, duty desks, per-unit SLA and"
            " channel policies, routing rules, officers (`fanzha org check`, `fanzha org show`)."
        ),
    )
    webhook_urls: str | None = Field(
        default=None,
        description=(
            "Instruction events are POSTed (JSON, HMAC-signed) to these http(s) URLs,"
            " comma-separated; empty: no webhooks."
        ),
    )
    webhook_secret: str | None = Field(
        default=None,
        description="Shared secret of the webhooks' X-Fanzha-Signature (needed with webhook_urls).",
    )
    ingest_token: str | None = Field(
        default=None,
        description=(
            "Bootstrap bearer token for data providers (ingest only), beside the tokens of"
            " 'fanzha tokens create'; ingestion always needs a token or a permitted login."
        ),
    )
    cookie_secure: bool | None = Field(
        default=None,
        description=(
            "Secure flag of the session cookie: true, false, or empty for automatic (set when"
            " the request came over HTTPS; run uvicorn with --proxy-headers behind a proxy)."
        ),
    )
    session_hours: float = Field(
        default=12.0, gt=0, description="A login session ends this many hours after it began."
    )
    session_idle_minutes: float = Field(
        default=60.0, gt=0, description="A login session ends after this many idle minutes."
    )
    login_max_failures_per_user: int = Field(
        default=5, ge=1, description="Failed logins per username in the window before refusal."
    )
    login_max_failures_per_ip: int = Field(
        default=20, ge=1, description="Failed logins per client address in the window."
    )
    login_window_minutes: float = Field(
        default=15.0, gt=0, description="Window of the login rate limits, in minutes."
    )
    argon2_time_cost: int = Field(default=3, ge=1, description="argon2id passes per password hash.")
    argon2_memory_kib: int = Field(
        default=65_536, ge=8, description="argon2id memory per password hash, in KiB."
    )
    content_security_policy: str = Field(
        default=(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
            " img-src 'self' data: blob:; font-src 'self'; connect-src 'self';"
            " object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
        ),
        description=(
            "Content-Security-Policy header of every response (scripts only from this"
            " server: HTMX and ECharts are served locally)."
        ),
    )
    lang: str = Field(default="zh-CN", description="Language of labels and messages: zh-CN or en.")
    live: bool = Field(
        default=True,
        description=(
            "Run the live loop in 'fanzha serve': detection of every ingested event, dispatch"
            " of new warnings, escalation, order expiry, extended stop-payment on new"
            " transfers. False (FANZHA_LIVE=0): ingest only."
        ),
    )
    live_tick_s: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Seconds between the live loop's scheduler ticks (escalation, order expiry,"
            " funds feed); ingested events wake detection at once."
        ),
    )
    live_hold_s: int = Field(
        default=5,
        ge=0,
        description=(
            "Live detection runs an event once a newer one this many seconds later has"
            " arrived, or once the clock is this far past it (reordering across providers)."
        ),
    )
    live_residents_ahead: bool = Field(
        default=True,
        description=(
            "Live detection looks up every resident's phone numbers and accounts once at start"
            " (and after a registry or intelligence change) instead of in the call that first"
            " meets each: about a sixth less CPU per live call; costs ~4.5 s and ~650 MiB at a"
            " million residents."
        ),
    )
    live_snapshot_s: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Seconds between snapshots of the live detection state to data_dir/live (also"
            " taken at shutdown), and between scans of the lake for files other processes wrote."
        ),
    )
    live_max_age_s: int = Field(
        default=86_400,
        ge=0,
        description=(
            "Live warnings whose change is older than this (event time against the clock)"
            " are stored but not dispatched (a catch-up over old events issues no instructions)."
        ),
    )

    @property
    def lake_dir(self) -> Path:
        """Root folder of the append-only event log."""
        return self.data_dir / "lake"

    @property
    def effective_database_url(self) -> str:
        """The store URL, defaulting to SQLite (WAL) inside the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'fanzha.db').as_posix()}"
