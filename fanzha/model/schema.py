"""Field specifications of the event models, and their Arrow schemas (columnar form)."""

from __future__ import annotations

import enum
import functools
import types
import typing
from dataclasses import dataclass

import pyarrow as pa
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from fanzha.model.fields import FieldMeta, Kind

ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.ID: pa.string(),
    Kind.STRING: pa.string(),
    Kind.TEXT: pa.string(),
    Kind.MSISDN: pa.string(),
    Kind.ACCOUNT: pa.string(),
    Kind.ID_NUMBER: pa.string(),
    Kind.URL: pa.string(),
    Kind.DOMAIN: pa.string(),
    Kind.MONEY_FEN: pa.int64(),
    Kind.CURRENCY: pa.string(),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.DATE: pa.date32(),
    Kind.INT: pa.int64(),
    Kind.BOOL: pa.bool_(),
    Kind.ENUM: pa.string(),
    Kind.MSISDN_LIST: pa.list_(pa.string()),
    Kind.ACCOUNT_LIST: pa.list_(pa.string()),
    Kind.URL_LIST: pa.list_(pa.string()),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an event model, as ingestion and documentation see it."""

    name: str
    kind: Kind
    required: bool
    description: str
    unit: str | None
    default: object
    choices: tuple[str, ...] = ()

    @property
    def arrow_type(self) -> pa.DataType:
        """Arrow type of the stored column."""
        return ARROW_TYPES[self.kind]


def _find_meta(annotation: object) -> tuple[FieldMeta | None, type[enum.Enum] | None]:
    """Dig the FieldMeta (and enum class) out of ``Annotated[...] | None`` annotations."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        meta = next((e for e in extras if isinstance(e, FieldMeta)), None)
        enum_cls = base if isinstance(base, type) and issubclass(base, enum.Enum) else None
        return meta, enum_cls
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            found = _find_meta(arg)
            if found[0] is not None:
                return found
    return None, None


def _spec(name: str, info: FieldInfo) -> FieldSpec:
    meta = next((m for m in info.metadata if isinstance(m, FieldMeta)), None)
    enum_cls: type[enum.Enum] | None = None
    if meta is None:
        meta, enum_cls = _find_meta(info.annotation)
    elif isinstance(info.annotation, type) and issubclass(info.annotation, enum.Enum):
        enum_cls = info.annotation
    if meta is None:
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, enum.Enum):
            meta, enum_cls = FieldMeta(Kind.ENUM), ann
        else:
            raise TypeError(f"field {name!r} has no FieldMeta annotation")
    choices = tuple(str(m.value) for m in enum_cls) if enum_cls else ()
    default = None if info.is_required() else info.get_default(call_default_factory=True)
    return FieldSpec(
        name=name,
        kind=meta.kind,
        required=info.is_required(),
        description=info.description or "",
        unit=meta.unit,
        default=default.value if isinstance(default, enum.Enum) else default,
        choices=choices,
    )


@functools.cache
def field_specs(model: type[BaseModel]) -> tuple[FieldSpec, ...]:
    """The field specifications of a model, in declaration order."""
    return tuple(_spec(name, info) for name, info in model.model_fields.items())


@functools.cache
def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of a model's stored columns."""
    return pa.schema(
        [pa.field(s.name, s.arrow_type, nullable=not s.required) for s in field_specs(model)]
    )
