"""Generate ``docs/events.md`` from the event model (CI fails when the file is stale)."""

from __future__ import annotations

from pydantic import BaseModel

from fanzha.model.events import EVENT_TYPES, REFERENCE_TYPES
from fanzha.model.schema import FieldSpec, field_specs

HEADER = """# Events and reference data

Generated from `fanzha/model/events.py` by `fanzha docs events`; do not edit by hand
(a test fails when this file is stale).

Every event has `event_id` (stable; derived from the identity fields when the source has
none, so re-ingesting adds nothing; the n-th identical record of one input gets `#n`),
`source` and `ts` (timezone-aware; a time without an
offset is read in `FANZHA_TIMEZONE`, default Asia/Shanghai). Money is integer **fen**
(0.01 yuan); inputs may give `amount` / `loss` in yuan instead. Phone numbers are E.164
(`+8613800138000`), service numbers as digits, or lower-case hex pseudonyms.

Input formats: NDJSON, CSV, Parquet and workbooks (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`,
`.ods`, and HTML tables saved as `.xls`: every sheet with data, its header found under a
bank's title rows, rows located as `sheet NAME row N`) for every type; CSV and workbook
profiles `sichuan-voc`, `sichuan-sms`, `transfers` (with `--map field=column`); ISO 20022
pacs.008 / camt.053 / camt.054 for transfers.
"""


def _type_label(spec: FieldSpec) -> str:
    label = spec.kind.value
    if spec.choices:
        label += " (" + " / ".join(spec.choices) + ")"
    return label


def _default(spec: FieldSpec) -> str:
    if spec.required:
        return ""
    if spec.default in (None, []):
        return ""
    return f"`{spec.default}`"


def _model_section(name: str, model: type[BaseModel]) -> list[str]:
    doc = (model.__doc__ or "").strip().splitlines()[0]
    identity = getattr(model, "identity", ())
    lines = [f"## `{name}` — {model.__name__}", "", doc, ""]
    if identity:
        lines += [f"Identity (for derived ids): {', '.join(f'`{i}`' for i in identity)}.", ""]
    lines += [
        "| field | type | unit | required | default | description |",
        "|---|---|---|---|---|---|",
    ]
    for spec in field_specs(model):
        required = "yes" if spec.required else "no"
        lines.append(
            f"| `{spec.name}` | {_type_label(spec)} | {spec.unit or ''} | {required} | "
            f"{_default(spec)} | {spec.description} |"
        )
    lines.append("")
    return lines


def events_markdown(*appendix: str) -> str:
    """The whole events reference as Markdown (``appendix``: sections added at the end, from
    packages the model may not import, e.g. the ingestion profiles)."""
    lines = [HEADER]
    for name, model in EVENT_TYPES.items():
        lines += _model_section(name, model)
    lines += ["# Reference data", ""]
    for name, ref in REFERENCE_TYPES.items():
        lines += _model_section(name, ref)
    lines += [part.rstrip() + "\n" for part in appendix]
    return "\n".join(lines).rstrip() + "\n"
