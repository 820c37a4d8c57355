"""Generated and hand-written docs stay true to the code (CI fails when they are stale)."""

from __future__ import annotations

import re
from pathlib import Path

from fanzha.model.docs import events_markdown
from fanzha.model.events import EVENT_TYPES, REFERENCE_TYPES
from fanzha.model.schema import field_specs
from fanzha.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_events_md_is_generated_from_the_model() -> None:
    current = (DOCS / "events.md").read_text(encoding="utf-8")
    assert current == events_markdown(), "docs/events.md is stale: run `fanzha docs events`"


def test_events_markdown_documents_every_field() -> None:
    text = events_markdown()
    for name, model in {**EVENT_TYPES, **REFERENCE_TYPES}.items():
        assert f"## `{name}` — {model.__name__}" in text
        for spec in field_specs(model):
            assert re.search(rf"^\| `{spec.name}` \| {re.escape(spec.kind.value)}", text, re.M)


def test_every_setting_is_in_settings_md() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    missing = [
        f"FANZHA_{name.upper()}"
        for name in Settings.model_fields
        if f"FANZHA_{name.upper()}" not in text
    ]
    assert not missing, f"docs/settings.md lacks {', '.join(missing)}"
