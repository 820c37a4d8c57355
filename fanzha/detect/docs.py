"""The rule reference of ``docs/detection.md``, generated from the registry.

The file has a hand-written part (how the engine works, for analysts) and, after
:data:`MARKER`, a part generated from :data:`fanzha.detect.rules.RULES`, the retro-correlation
signals and the default scoring and engine configuration by ``fanzha docs detection``; only
the generated part is ever rewritten, and a test fails when it is stale.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel

from fanzha.detect.engine import RETRO_TITLES, EngineConfig
from fanzha.detect.features import LONG_CALL_S
from fanzha.detect.rules import RULES, Rule
from fanzha.detect.scoring import LEVEL_EN, LEVEL_ZH, ScoringConfig

MARKER = "<!-- generated: rules (fanzha docs detection) -->"
DEFAULT_HEAD = "# Detection\n"

_INTRO = f"""## Rule reference

Generated from `fanzha/detect/rules/` by `fanzha docs detection`; do not edit below the marker
above (a test fails when this part is stale). *Weight* adds to the score (per evidence family
only the strongest hit counts); *floor* is the least level one hit implies on its own; stage 2
rules also read the last fraud contact (`exposed_at`); *exposure* rules mark a fraud contact
for them. A long call is one of at least {LONG_CALL_S} s.
"""


def rules_markdown() -> str:
    """The generated part: rules by family, retro signals, scoring bands, engine settings."""
    return "\n".join([_INTRO, *_rules(), *_retro(), *_scoring(), *_engine()]) + "\n"


def _rules() -> Iterator[str]:
    families = sorted({r.family for r in RULES})
    for family in families:
        yield f"### Family `{family}`\n"
        yield "| rule | 名称 / title | events | weight | floor | stage | what it means | config |"
        yield "|---|---|---|---|---|---|---|---|"
        for r in (r for r in RULES if r.family == family):
            yield _rule_row(r)
        yield ""


def _rule_row(r: Rule) -> str:
    kinds = ", ".join(k.name.lower() for k in r.kinds)
    stage = f"{r.stage}" + (" · exposure" if r.exposure else "")
    target = " → **indicator** (learnt, suspicious)" if r.target.value == "indicator" else ""
    return (
        f"| `{r.key}` | {r.title_zh} / {r.title_en} | {kinds} | {r.weight:g} | "
        f"{r.floor or ''} | {stage} | {_cell(r.doc)}{target} | {_config(r.config)} |"
    )


def _config(config: BaseModel) -> str:
    parts = []
    for name, info in type(config).model_fields.items():
        value = getattr(config, name)
        parts.append(f"`{name}`={value} ({_cell(info.description or '')})")
    return "<br>".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _retro() -> Iterator[str]:
    cfg = EngineConfig()
    weights = {
        "retro_reported_indicator": (f"{cfg.retro_weight_report:g}", "3"),
        "retro_reported_account_paid": (f"{cfg.retro_weight_payment:g}", "3"),
        "retro_model_indicator": (f"{cfg.retro_weight_model:g}", ""),
        "retro_new_intel": (
            f"{cfg.retro_weight_report:g} (fraud) / {cfg.retro_weight_model:g} (suspicious)",
            "3 (fraud)",
        ),
    }
    yield "### Retro-correlation signals (family `retro`)\n"
    yield "| signal | 名称 / title | weight | floor |"
    yield "|---|---|---|---|"
    for rid, (zh, en) in RETRO_TITLES.items():
        weight, floor = weights[rid]
        yield f"| `{rid}` | {zh} / {en} | {weight} | {floor} |"
    yield ""


def _scoring() -> Iterator[str]:
    cfg = ScoringConfig()
    yield "### Levels (default bands)\n"
    yield "| level | 名称 | least score |"
    yield "|---|---|---|"
    for level, least in sorted(cfg.bands.items(), reverse=True):
        yield f"| {level} | {LEVEL_ZH[level]} ({LEVEL_EN[level]}) | {least:g} |"
    yield ""
    yield from _settings("Scoring settings", cfg, skip={"bands"})


def _engine() -> Iterator[str]:
    yield from _settings("Engine settings", EngineConfig(), skip={"scoring", "rules"})


def _settings(title: str, model: BaseModel, skip: set[str]) -> Iterator[str]:
    yield f"### {title}\n"
    yield "| setting | default | meaning |"
    yield "|---|---|---|"
    for name, info in type(model).model_fields.items():
        if name in skip:
            continue
        yield f"| `{name}` | {getattr(model, name)!s} | {_cell(info.description or '')} |"
    yield ""


def render(current: str | None) -> str:
    """The whole file: the hand-written part of ``current`` (or a default head), the marker,
    the generated part."""
    head = DEFAULT_HEAD if current is None else current.split(MARKER, 1)[0]
    return head.rstrip("\n") + "\n\n" + MARKER + "\n\n" + rules_markdown()
