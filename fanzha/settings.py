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
    ingest_token: str | None = Field(
        default=None,
        description="When set, POST /api/v1/ingest needs 'Authorization: Bearer <token>'.",
    )
    lang: str = Field(default="zh-CN", description="Language of labels and messages: zh-CN or en.")

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
