"""Generated and hand-written docs stay true to the code (CI fails when they are stale)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from fanzha.ingest.profiles import transfers_markdown
from fanzha.model.docs import events_markdown
from fanzha.model.events import EVENT_TYPES, REFERENCE_TYPES
from fanzha.model.schema import field_specs
from fanzha.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_events_md_is_generated_from_the_model() -> None:
    current = (DOCS / "events.md").read_text(encoding="utf-8")
    expected = events_markdown(transfers_markdown())
    assert current == expected, "docs/events.md is stale: run `fanzha docs events`"


def test_events_markdown_documents_every_field() -> None:
    text = events_markdown(transfers_markdown())
    for name, model in {**EVENT_TYPES, **REFERENCE_TYPES}.items():
        assert f"## `{name}` — {model.__name__}" in text
        for spec in field_specs(model):
            assert re.search(rf"^\| `{spec.name}` \| {re.escape(spec.kind.value)}", text, re.M)


def test_detection_md_rule_reference_is_current() -> None:
    from fanzha.detect.docs import render
    from fanzha.detect.rules import RULES

    current = (DOCS / "detection.md").read_text(encoding="utf-8")
    assert current == render(current), "docs/detection.md is stale: run `fanzha docs detection`"
    for r in RULES:
        assert f"`{r.key}`" in current and r.doc in current


def test_every_setting_is_in_settings_md() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    missing = [
        f"FANZHA_{name.upper()}"
        for name in Settings.model_fields
        if f"FANZHA_{name.upper()}" not in text
    ]
    assert not missing, f"docs/settings.md lacks {', '.join(missing)}"


def test_simulation_md_reference_is_generated_from_the_parameters() -> None:
    from fanzha.sim.docs import MARKER, check_simulation_doc

    path = DOCS / "simulation.md"
    assert MARKER in path.read_text(encoding="utf-8"), "docs/simulation.md lacks its marker"
    assert check_simulation_doc(path), "docs/simulation.md is stale: run `fanzha docs simulation`"


def _undocumented(model: BaseModel, path: str) -> Iterator[str]:
    """Dotted paths of leaf parameters without a description (nested models are walked)."""
    from fanzha.sim.params import LogNormal

    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        dotted = f"{path}.{name}" if path else name
        if isinstance(value, BaseModel) and not isinstance(value, LogNormal):
            yield from _undocumented(value, dotted)
            continue
        if (
            isinstance(value, dict)
            and value
            and all(
                isinstance(v, BaseModel) and not isinstance(v, LogNormal) for v in value.values()
            )
        ):
            if not (info.description or "").strip():
                yield dotted
            for key, sub in value.items():
                yield from _undocumented(sub, f"{dotted}.{getattr(key, 'value', key)}")
            continue
        if not (info.description or "").strip():
            yield dotted


def test_every_simulation_parameter_has_a_description() -> None:
    from fanzha.model.enums import FraudType
    from fanzha.sim.docs import iter_parameters, parameters_markdown
    from fanzha.sim.params import PRESETS, SimParams, preset

    for params in [SimParams(), *(preset(name) for name in PRESETS)]:
        missing = list(_undocumented(params, ""))
        assert not missing, f"parameters without a description: {', '.join(missing)}"
    leaves = [p.path for p in iter_parameters()]
    assert len(leaves) == len(set(leaves)) > 100
    text = parameters_markdown()
    for ft in SimParams().fraud.typologies:
        assert f"{FraudType(ft).label_zh} (`fraud.typologies.{ft.value}`)" in text
    for leaf in leaves:
        assert f"| `{leaf}` |" in text


def test_simulation_doc_keeps_the_hand_written_part(tmp_path: Path) -> None:
    from fanzha.sim.docs import MARKER, check_simulation_doc, write_simulation_doc

    path = tmp_path / "simulation.md"
    assert not check_simulation_doc(path)
    path.write_text(f"# Hand\n\nwritten 江州市\n\n{MARKER}\n\nold reference\n", encoding="utf-8")
    assert not check_simulation_doc(path)
    assert write_simulation_doc(path)
    assert check_simulation_doc(path)
    assert not write_simulation_doc(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"# Hand\n\nwritten 江州市\n\n{MARKER}\n\n## Parameter reference")
    assert "old reference" not in text
    assert "| `laundering.hop_delay_s` | median 300, σ 0.35 |" in text
