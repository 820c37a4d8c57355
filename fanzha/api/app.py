"""The FastAPI application: ``POST /api/v1/ingest/{type}`` and friends.

Routers are thin: they check the request, stream the body to a temporary file (memory stays
bounded whatever the upload size) and call the services.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from fanzha import __version__
from fanzha.api import auth
from fanzha.api.auth_routes import router as auth_router
from fanzha.api.events import router as events_router
from fanzha.api.funds import router as funds_router
from fanzha.api.instructions import router as instructions_router
from fanzha.auth import Permission
from fanzha.ingest.pipeline import ALL_TYPES, IngestError
from fanzha.ingest.pipeline import Request as IngestRequest
from fanzha.service import App
from fanzha.settings import Settings

CONTENT_FORMATS = {
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/json": "ndjson",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/xml": "iso20022",
    "text/xml": "iso20022",
    "application/vnd.apache.parquet": "parquet",
    "application/octet-stream": "parquet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "sheet",
    "application/vnd.ms-excel": "sheet",
    "application/vnd.ms-excel.sheet.macroenabled.12": "sheet",
    "application/vnd.ms-excel.sheet.binary.macroenabled.12": "sheet",
    "application/vnd.oasis.opendocument.spreadsheet": "sheet",
}
UPLOAD_FORMATS = ("ndjson", "csv", "iso20022", "parquet", "sheet")


def _format_of(content_type: str | None, fmt: str | None) -> str:
    if fmt:
        if fmt not in UPLOAD_FORMATS:
            known = ", ".join(UPLOAD_FORMATS)
            raise HTTPException(422, f"unknown format {fmt!r}; use {known}")
        return fmt
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in CONTENT_FORMATS:
        known = ", ".join(CONTENT_FORMATS)
        raise HTTPException(415, f"unsupported Content-Type {media!r}; use one of {known}")
    return CONTENT_FORMATS[media]


def create_app(settings: Settings) -> FastAPI:
    """Build the API for one set of settings (tests pass their own)."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        api.state.fz = fz = App(settings)
        if settings.live:  # detection, dispatch and the scheduler (fanzha/live.py)
            fz.live.start()
        try:
            yield
        finally:
            fz.close()  # stops the live loop and writes its snapshot

    # No /docs or /redoc: their pages load scripts from a CDN (offline, and against the
    # CSP); the OpenAPI document itself stays at /openapi.json.
    api = FastAPI(
        title="Fanzha 反诈", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    auth.install(api, settings)
    api.include_router(auth_router)
    api.include_router(instructions_router)
    api.include_router(events_router)
    from fanzha.web.pages import install as install_pages

    install_pages(api, settings)
    api.include_router(funds_router)

    @api.get("/api/v1/health")
    def health() -> dict[str, str]:
        """Liveness check."""
        return {"status": "ok", "version": __version__}

    @api.post(
        "/api/v1/ingest/{event_type}", dependencies=[Depends(auth.require(Permission.INGEST))]
    )
    async def ingest(
        event_type: str,
        request: Request,
        format: str | None = None,
        strict: bool = False,
        source: str | None = None,
    ) -> dict[str, Any]:
        """Ingest an NDJSON, CSV, ISO 20022 or Parquet body as records of ``event_type``."""
        if event_type not in ALL_TYPES:
            raise HTTPException(404, f"unknown type {event_type!r}; known: {', '.join(ALL_TYPES)}")
        fmt = _format_of(request.headers.get("content-type"), format)
        fz: App = request.app.state.fz
        tmp_dir = settings.data_dir / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=tmp_dir, suffix=f".{fmt}") as tmp:
            size = 0
            async for piece in request.stream():
                size += len(piece)
                if size > settings.max_upload_bytes:
                    raise HTTPException(
                        413, f"body is larger than {settings.max_upload_bytes} bytes"
                    )
                tmp.write(piece)
            tmp.flush()
            label = f"api:{event_type}:{source or 'upload'}"
            ingest_request = IngestRequest(
                [Path(tmp.name)], event_type, fmt, strict=strict, source=source, label=label
            )
            try:
                report = await run_in_threadpool(fz.ingest, ingest_request)
            except IngestError as exc:
                raise HTTPException(422, str(exc)) from None
        return report.as_dict()

    @api.get(
        "/api/v1/deadletters", dependencies=[Depends(auth.require(Permission.DEADLETTERS_READ))]
    )
    def deadletters(
        request: Request, status: str = "open", limit: int = 100
    ) -> list[dict[str, Any]]:
        """Dead letters, newest first (raw bytes are shown by the CLI, not here)."""
        fz: App = request.app.state.fz
        rows = fz.store.dead_letters.list(status=status, limit=min(limit, 1000))
        return [
            {
                "id": r.id,
                "status": r.status,
                "source": r.letter.source,
                "location": r.letter.location,
                "event_type": r.letter.event_type,
                "field": r.letter.field,
                "reason": r.letter.reason,
            }
            for r in rows
        ]

    return api
