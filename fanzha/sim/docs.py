"""Generate the parameter reference of ``docs/simulation.md`` from the simulator's parameters.

The file has a hand-written part (the model, for analysts) and, after :data:`MARKER`, a part
generated from :mod:`fanzha.sim.params` by ``fanzha docs simulation``; only the generated part
is ever rewritten, and a test fails when it is stale.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from fanzha.model.enums import FraudType
from fanzha.sim.params import PRESETS, LogNormal, SimParams, preset

MARKER = "<!-- generated: parameters (fanzha docs simulation) -->"

#: The hand-written part used when the file does not exist yet.
DEFAULT_HEAD = "# Simulation\n"

GENERATED_INTRO = """## Parameter reference

Generated from `fanzha/sim/params.py` by `fanzha docs simulation`; do not edit below the
marker above (a test fails when this part is stale). Defaults are those of `SimParams()`;
the presets change only the fields listed in [Preset differences](#preset-differences).
Money parameters in yuan are converted to integer fen by the simulator; durations carry
their unit in the name (`_s` seconds, `_minutes`, `_hours`, `_days`). A log-normal is given
by its median and the σ of its logarithm (about two thirds of draws lie within ×/÷ e^σ of
the median).
"""

#: Numbers that are names, not quantities (no thousands separators).
_IDENTIFIERS = frozenset({"seed"})

_TABLE_HEAD = [
    "| parameter | default | meaning | calibrated to |",
    "|---|---|---|---|",
]


@dataclass(frozen=True)
class Parameter:
    """One documented leaf parameter: dotted path, value, meaning and calibration."""

    path: str
    value: object
    description: str
    calibration: str | None
    shown: str | None = None  # replaces the value in the table (a dict of typologies)


@dataclass(frozen=True)
class Group:
    """A table of parameters: a nested model (``laundering``) or one typology."""

    path: str
    title: str
    doc: str
    params: tuple[Parameter, ...]


# ------------------------------------------------------------------------- walking the models


def _is_group(value: object) -> bool:
    """A nested parameter model gets its own table; a LogNormal is a value."""
    return isinstance(value, BaseModel) and not isinstance(value, LogNormal)


def _is_group_map(value: object) -> bool:
    """A dict of parameter models (the typologies): one table per entry."""
    return isinstance(value, Mapping) and bool(value) and all(_is_group(v) for v in value.values())


def _key_name(key: object) -> str:
    return str(key.value) if isinstance(key, enum.Enum) else str(key)


def _calibration(model: BaseModel, name: str) -> str | None:
    extra = type(model).model_fields[name].json_schema_extra
    if isinstance(extra, dict):
        value = extra.get("calibration")
        return str(value) if value else None
    return None


def _label(key: object) -> str:
    return key.label_zh if isinstance(key, FraudType) else f"`{_key_name(key)}`"


def _title(path: str, key: object) -> str:
    if isinstance(key, FraudType):
        return f"{key.label_zh} (`{path}`)"
    return f"`{path}`"


def _first_line(model: BaseModel) -> str:
    lines = (type(model).__doc__ or "").strip().splitlines()
    return lines[0] if lines else ""


def _groups(model: BaseModel, path: str, title: str) -> Iterator[Group]:
    """The table of ``model``'s leaves, then the tables of its nested models, in field order."""
    leaves: list[Parameter] = []
    nested: list[tuple[BaseModel, str, str]] = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        dotted = f"{path}.{name}" if path else name
        if _is_group(value):
            assert isinstance(value, BaseModel)
            nested.append((value, dotted, f"`{dotted}`"))
            continue
        if _is_group_map(value):
            assert isinstance(value, Mapping)
            entries = ", ".join(_label(k) for k in value)
            leaves.append(
                Parameter(
                    dotted,
                    value,
                    info.description or "",
                    _calibration(model, name),
                    shown=f"one table each below: {entries}",
                )
            )
            for key, sub in value.items():
                sub_path = f"{dotted}.{_key_name(key)}"
                nested.append((sub, sub_path, _title(sub_path, key)))
            continue
        leaves.append(Parameter(dotted, value, info.description or "", _calibration(model, name)))
    if leaves:
        yield Group(path, title, _first_line(model), tuple(leaves))
    for sub, sub_path, sub_title in nested:
        yield from _groups(sub, sub_path, sub_title)


def parameter_groups(params: SimParams | None = None) -> list[Group]:
    """Every table of the reference, in order: the run, then each group and typology."""
    return list(_groups(params if params is not None else SimParams(), "", "Run"))


def iter_parameters(params: SimParams | None = None) -> Iterator[Parameter]:
    """Every leaf parameter of ``params`` (default ``SimParams()``), with its dotted path."""
    for group in parameter_groups(params):
        yield from group.params


# ------------------------------------------------------------------------------- formatting


def _number(value: float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return repr(value)


def _rough(value: float) -> str:
    """Two significant digits (whole numbers stay whole): 362.6 → 363, 0.0484 → 0.048."""
    if value <= 0 or value >= 10:
        return _number(round(value))
    digits = 1 - math.floor(math.log10(value))
    return _number(round(value, digits))


def _scalar(value: object) -> str:
    if isinstance(value, LogNormal):
        return f"median {_number(value.median)}, σ {_number(value.sigma)}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, enum.Enum):
        return f"`{value.value}`"
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_scalar(v) for v in value) + ")"
    if isinstance(value, Mapping):
        if not value:
            return "none"
        return ", ".join(f"{_key_name(k)}: {_scalar(v)}" for k, v in value.items())
    if isinstance(value, BaseModel):
        return ", ".join(f"{k}: {_scalar(v)}" for k, v in value)
    return str(value)


def format_value(value: object) -> str:
    """A readable default: log-normals by median and σ, dicts as ``k: v`` lists, tuples."""
    if isinstance(value, Mapping) and any(
        isinstance(v, Mapping | BaseModel) for v in value.values()
    ):
        # Complex values (a log-normal or a row per key): one line per key.
        return "<br>".join(f"**{_key_name(k)}**: {_scalar(v)}" for k, v in value.items())
    return _scalar(value)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _shown(p: Parameter) -> str:
    if p.shown is not None:
        return p.shown
    if p.path.rsplit(".", 1)[-1] in _IDENTIFIERS:
        return str(p.value)
    return format_value(p.value)


def _group_section(group: Group) -> list[str]:
    level = "####" if "." in group.path else "###"
    lines = [f"{level} {group.title}", ""]
    if group.doc:
        lines += [group.doc, ""]
    lines += _TABLE_HEAD
    for p in group.params:
        lines.append(
            f"| `{p.path}` | {_cell(_shown(p))} | {_cell(p.description)} | "
            f"{_cell(p.calibration or '—')} |"
        )
    lines.append("")
    return lines


def _paying_share(params: SimParams) -> float:
    """Share of fraud contacts that end in a payment at the typologies' base rates."""
    typologies = params.fraud.typologies.values()
    total = sum(t.contact_share for t in typologies)
    if total <= 0:
        return 0.0
    return sum(t.contact_share * t.hook * t.pay for t in typologies) / total


def _derived(runs: Mapping[str, SimParams]) -> list[tuple[str, dict[str, str]]]:
    """Sizes that follow from each preset's parameters (arithmetic, not a run)."""

    def contacts(r: SimParams, scale: float) -> float:
        return r.residents / 1e6 * r.fraud.contacts_per_million_day * scale * r.days

    def per(fn: Callable[[SimParams], float]) -> dict[str, str]:
        return {name: _rough(fn(r)) for name, r in runs.items()}

    return [
        ("police stations", per(lambda r: r.geo.districts * r.geo.stations_per_district)),
        (
            "communities / villages",
            per(
                lambda r: (
                    r.geo.districts * r.geo.stations_per_district * r.geo.communities_per_station
                )
            ),
        ),
        (
            "fraud contacts per million residents per day (× incidence scale)",
            per(lambda r: r.fraud.contacts_per_million_day * r.fraud.incidence_scale),
        ),
        (
            "expected fraud contacts in the run",
            per(lambda r: contacts(r, r.fraud.incidence_scale)),
        ),
        ("the same at the real rate (incidence scale 1)", per(lambda r: contacts(r, 1.0))),
        (
            "paying victims, rough (base hook × pay; before affinities, stopping and dissuasion)",
            per(lambda r: contacts(r, r.fraud.incidence_scale) * _paying_share(r)),
        ),
        (
            "the same at the real rate",
            per(lambda r: contacts(r, 1.0) * _paying_share(r)),
        ),
    ]


def _preset_section() -> list[str]:
    """The fields on which the presets differ, computed from ``preset()``, plus sizes."""
    runs = {name: preset(name) for name in PRESETS}
    shown = {
        name: {p.path: _shown(p) for p in iter_parameters(run) if p.shown is None}
        for name, run in runs.items()
    }
    paths: list[str] = []
    for name in PRESETS:
        paths += [path for path in shown[name] if path not in paths]
    differing = [
        path
        for path in paths
        if path != "preset" and len({shown[name].get(path, "—") for name in PRESETS}) > 1
    ]
    columns = " | ".join(PRESETS)
    rule = "|---|" + "---|" * len(PRESETS)
    lines = [
        "### Preset differences",
        "",
        "`preset(name)` starts from the defaults above and changes only these fields",
        "(computed from the presets, not written by hand):",
        "",
        f"| parameter | {columns} |",
        rule,
    ]
    for path in differing:
        cells = " | ".join(_cell(shown[name].get(path, "—")) for name in PRESETS)
        lines.append(f"| `{path}` | {cells} |")
    lines += [
        "",
        "What follows from them (arithmetic on the parameters: expected values, not the",
        "counts of a run):",
        "",
        f"| quantity | {columns} |",
        rule,
    ]
    for label, values in _derived(runs):
        lines.append(f"| {label} | " + " | ".join(values[name] for name in PRESETS) + " |")
    lines.append("")
    return lines


def parameters_markdown() -> str:
    """The generated parameter reference (Markdown), deterministic for given parameters."""
    lines = [GENERATED_INTRO]
    for group in parameter_groups():
        lines += _group_section(group)
    lines += _preset_section()
    return "\n".join(lines).rstrip() + "\n"


# ------------------------------------------------------------------------ the document file


def compose(current: str | None) -> str:
    """``current`` with everything after the marker replaced by the generated reference.

    The part before the marker is kept as written (only its trailing blank lines are
    normalised); a file without a marker keeps all of its text and gets the marker appended;
    no file (``None``) gets a minimal heading.
    """
    head = DEFAULT_HEAD if current is None else current.split(MARKER, 1)[0]
    return head.rstrip("\n") + "\n\n" + MARKER + "\n\n" + parameters_markdown()


def write_simulation_doc(path: Path) -> bool:
    """Regenerate the part of ``path`` after the marker; True when the file changed."""
    current = path.read_text(encoding="utf-8") if path.exists() else None
    text = compose(current)
    if text == current:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def check_simulation_doc(path: Path) -> bool:
    """True when ``path`` exists, has the marker, and its generated part is up to date."""
    if not path.exists():
        return False
    current = path.read_text(encoding="utf-8")
    return MARKER in current and compose(current) == current
