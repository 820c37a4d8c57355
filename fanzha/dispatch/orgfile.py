"""The org file (YAML): units, users, policy overrides and routing rules.

```yaml
defaults:                      # optional: change a level's default policy everywhere
  高危: {contact_within: 10m}
visit: {contact_within: 45m}   # optional: the home-visit policy
routing: {away: copy, unknown: district}
units:
  - {code: "500100", name: 江州市公安局反诈中心, level: city, places: [江州市]}
  - {code: "500101", name: 江北区反诈中心, level: district, parent: "500100",
     duty_unit: "50010101", policies: {特危: {contact_within: 3m}}}
users:
  - {username: li.wei, name: 李伟, unit: "50010101", roles: [officer]}
```

Units may also come from the registry (the org units ingestion stored): a unit in the file
whose code is already there changes only the fields it names (places, policies, duty desk…).
Every problem is reported with its line, the unit or user, and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from fanzha.dispatch.levels import (
    DEFAULT_POLICIES,
    DEFAULT_VISIT_POLICY,
    LevelPolicy,
    PolicyOverride,
    RiskLevel,
    parse_level,
)
from fanzha.dispatch.org import OrgError, OrgTree, OrgUnit, OrgUnitLike, Problem, User
from fanzha.dispatch.org import units_from_rows as _units_from_rows
from fanzha.dispatch.routing import RoutingConfig

M = TypeVar("M", bound=BaseModel)
_TOP_KEYS = {"defaults", "visit", "routing", "units", "users"}
# Fields holding unit codes: YAML reads 500100 as a number, a code is text.
_CODE_FIELDS = ("code", "parent", "unit", "duty_unit")


@dataclass(frozen=True, slots=True)
class OrgSetup:
    """What an org file configures: the tree (with users and policies) and the routing rules."""

    tree: OrgTree
    routing: RoutingConfig


class _Mapping(dict[Any, Any]):
    """A YAML mapping that remembers its line."""

    line: int = 0


class _Loader(yaml.SafeLoader):
    """Safe YAML whose mappings know their line and refuse duplicate keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Mapping:
    loader.flatten_mapping(node)
    out = _Mapping()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"line {line}: key {key!r} appears twice", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_org(
    text: str, *, source: str = "org.yaml", registry: Iterable[OrgUnitLike] = ()
) -> OrgSetup:
    """Read an org file (text) over the registry's units; OrgError lists every problem."""
    doc = _parse(text, source)
    problems: list[Problem] = []
    base, row_problems = _units_from_rows(registry)
    problems += row_problems
    where: dict[str, str] = {}
    units = {u.code: u for u in base}
    for entry in _list(doc, "units", source, problems):
        unit = _unit(entry, units, source, problems)
        if unit is not None:
            if f"unit:{unit.code}" in where:
                loc = f"{source} line {entry.line}"
                problems.append(Problem(loc, "code", f"unit {unit.code!r} appears twice"))
            where[f"unit:{unit.code}"] = f"{source} line {entry.line}"
            units[unit.code] = unit
    users = []
    for entry in _list(doc, "users", source, problems):
        user = _user(entry, source, problems)
        if user is not None:
            where.setdefault(f"user:{user.username}", f"{source} line {entry.line}")
            users.append(user)
    defaults = _defaults(doc, source, problems)
    visit = _visit(doc, source, problems)
    routing = _model(RoutingConfig, doc.get("routing") or {}, _loc(doc, "routing", source))
    if isinstance(routing, list):
        problems += routing
    tree = None
    try:
        tree = OrgTree(units.values(), users, where=where, defaults=defaults, visit=visit)
    except OrgError as exc:
        problems += exc.problems
    if problems or tree is None:
        raise OrgError(problems)
    assert isinstance(routing, RoutingConfig)
    return OrgSetup(tree, routing)


def tree_from_registry(rows: Iterable[OrgUnitLike]) -> OrgTree:
    """The org tree of the registry's units alone (default policies, no users)."""
    units, problems = _units_from_rows(rows)
    if problems:
        raise OrgError(problems)
    return OrgTree(units)


def _parse(text: str, source: str) -> _Mapping:
    try:
        doc = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise OrgError([Problem(f"{source}{line}", "", exc.problem or str(exc))]) from None
    except yaml.YAMLError as exc:
        raise OrgError([Problem(source, "", str(exc))]) from None
    if doc is None:
        return _Mapping()
    if not isinstance(doc, _Mapping):
        raise OrgError([Problem(source, "", "the file must be a mapping (units:, users: …)")])
    unknown = sorted(str(k) for k in doc if k not in _TOP_KEYS)
    if unknown:
        keys = ", ".join(sorted(_TOP_KEYS))
        raise OrgError([Problem(source, k, f"unknown section (expected {keys})") for k in unknown])
    return doc


def _loc(doc: _Mapping, key: str, source: str) -> str:
    value = doc.get(key)
    return f"{source} line {value.line if isinstance(value, _Mapping) else doc.line}"


def _list(doc: _Mapping, key: str, source: str, problems: list[Problem]) -> list[_Mapping]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        problems.append(Problem(_loc(doc, key, source), key, "must be a list"))
        return []
    out = []
    for index, entry in enumerate(value, start=1):
        if isinstance(entry, _Mapping):
            out.append(entry)
        else:
            problems.append(Problem(f"{source} {key}[{index}]", "", "must be a mapping"))
    return out


def _codes_as_text(entry: Mapping[str, Any]) -> dict[str, Any]:
    fixed = dict(entry)
    for name in _CODE_FIELDS:
        if isinstance(fixed.get(name), int) and not isinstance(fixed[name], bool):
            fixed[name] = str(fixed[name])
    return fixed


def _unit(
    entry: _Mapping, known: Mapping[str, OrgUnit], source: str, problems: list[Problem]
) -> OrgUnit | None:
    data = _codes_as_text(entry)
    code = data.get("code")
    loc = f"{source} line {entry.line}" + (f" unit {code!r}" if code else "")
    policies = data.get("policies")
    if policies is not None:
        if not isinstance(policies, Mapping):
            problems.append(Problem(loc, "policies", "must map levels to overrides"))
            return None
        data["policies"] = _policy_keys(policies, loc, problems)
    base = known.get(code) if isinstance(code, str) else None
    merged = {**base.model_dump(exclude_defaults=True), **data} if base else data
    result = _model(OrgUnit, merged, loc)
    if isinstance(result, list):
        problems += result
        return None
    return result


def _policy_keys(
    policies: Mapping[Any, Any], loc: str, problems: list[Problem]
) -> dict[RiskLevel, Any]:
    out: dict[RiskLevel, Any] = {}
    for key, value in policies.items():
        try:
            out[parse_level(key)] = value
        except ValueError as exc:
            problems.append(Problem(loc, f"policies.{key}", str(exc)))
    return out


def _user(entry: _Mapping, source: str, problems: list[Problem]) -> User | None:
    data = _codes_as_text(entry)
    name = data.get("username")
    loc = f"{source} line {entry.line}" + (f" user {name!r}" if name else "")
    result = _model(User, data, loc)
    if isinstance(result, list):
        problems += result
        return None
    return result


def _defaults(doc: _Mapping, source: str, problems: list[Problem]) -> dict[RiskLevel, LevelPolicy]:
    section = doc.get("defaults") or {}
    loc = _loc(doc, "defaults", source)
    if not isinstance(section, Mapping):
        problems.append(Problem(loc, "defaults", "must map levels to policies"))
        return {}
    out: dict[RiskLevel, LevelPolicy] = {}
    for level, value in _policy_keys(section, loc, problems).items():
        override = _model(PolicyOverride, value, f"{loc} defaults.{int(level)}")
        if isinstance(override, list):
            problems += override
            continue
        try:
            out[level] = override.apply(DEFAULT_POLICIES[level])
        except ValidationError as exc:
            problems += _problems(exc, f"{loc} defaults.{int(level)}")
    return out


def _visit(doc: _Mapping, source: str, problems: list[Problem]) -> LevelPolicy:
    if doc.get("visit") is None:
        return DEFAULT_VISIT_POLICY
    loc = _loc(doc, "visit", source)
    override = _model(PolicyOverride, doc["visit"], loc)
    if isinstance(override, list):
        problems += override
        return DEFAULT_VISIT_POLICY
    return override.apply(DEFAULT_VISIT_POLICY)


def _model(model: type[M], data: Any, loc: str) -> M | list[Problem]:
    """``model`` validated from ``data``, or the problems (located at ``loc``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return _problems(exc, loc)


def _problems(exc: ValidationError, loc: str) -> list[Problem]:
    return [
        Problem(loc, ".".join(str(p) for p in err["loc"]), err["msg"].removeprefix("Value error, "))
        for err in exc.errors()
    ]
