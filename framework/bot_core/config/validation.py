"""Validating settings models from user text, and explaining what is wrong in the user's terms.

Every path that turns user input into a settings model (config files, environment variables,
``--param`` options, the pipeline's own fallback) goes through :func:`validate_settings`, and
every path that shows a :class:`~pydantic.ValidationError` to a user goes through
:func:`settings_errors`, so that the same input is read and explained the same way everywhere.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

__all__ = [
    "NONE_WORDS",
    "NOT_SHOWN",
    "SettingsError",
    "admits_none",
    "profile_defaults_for",
    "settings_errors",
    "shown",
    "validate_settings",
    "with_profile_defaults",
]

NONE_WORDS = frozenset({"none", "null", "off"})
"""Words (any case) that unset an optional field (one whose type admits None): TOML has no
null, and an environment variable or ``--param`` value is text."""

NOT_SHOWN = "<n/a>"
"""Value of a :class:`SettingsError` that has no single offending value (a missing field, a
rule across fields)."""

ModelT = TypeVar("ModelT", bound=BaseModel)


def admits_none(annotation: Any) -> bool:
    """Whether a field of this type may be None (``float | None``, ``Optional[int]``, ...)."""
    if annotation is None or annotation is type(None):
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return admits_none(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return any(admits_none(arg) for arg in get_args(annotation))
    return False


def _literal_words(annotation: Any) -> set[str]:
    """String values a Literal inside the type allows: those words keep their meaning."""
    origin = get_origin(annotation)
    if origin is Literal:
        return {v.lower() for v in get_args(annotation) if isinstance(v, str)}
    return {w for arg in get_args(annotation) for w in _literal_words(arg)}


def _unset_words(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for name, value in values.items():
        field = model.model_fields.get(name)
        if (field is not None and isinstance(value, str) and value.strip().lower() in NONE_WORDS
                and admits_none(field.annotation)
                and value.strip().lower() not in _literal_words(field.annotation)):
            out[name] = None
    return out


def validate_settings(model: type[ModelT], values: Mapping[str, Any]) -> ModelT:
    """Validate ``values`` with ``model``, reading :data:`NONE_WORDS` as None for optional fields.

    :raises pydantic.ValidationError: as ``model.model_validate`` does.
    """
    return model.model_validate(_unset_words(model, values))


def with_profile_defaults(settings_cls: Any, profile: object, params: Mapping[str, Any],
                          timeframe: str | None = None) -> dict[str, Any]:
    """A strategy's values: its defaults for ``profile`` (on bars of ``timeframe``, when the
    settings have defaults for that bar length), overridden by ``params``.

    Field defaults come first, then the profile's, then the user's own values.
    """
    return {**profile_defaults_for(settings_cls, profile, timeframe), **params}


def profile_defaults_for(settings_cls: Any, profile: object,
                         timeframe: str | None = None) -> dict[str, Any]:
    """The profile's values of a strategy's settings on bars of ``timeframe``:
    ``profile_defaults``, with ``timeframe_defaults[timeframe]`` over them."""
    if not isinstance(profile, str):
        return {}
    values = dict(settings_cls.profile_defaults.get(profile, {}))
    by_timeframe = getattr(settings_cls, "timeframe_defaults", {})
    if timeframe is not None and timeframe != getattr(settings_cls, "profile_timeframe", None):
        values.update(by_timeframe.get(timeframe, {}).get(profile, {}))
    return values


@dataclass(frozen=True, slots=True)
class SettingsError:
    """One problem of a settings model, in the user's terms."""

    field: str
    """Dotted path inside the model; empty for a rule that spans fields (a model validator)."""
    value: object
    """The offending value, or :data:`NOT_SHOWN`."""
    message: str
    """What is wrong and what is allowed."""
    kind: str
    """pydantic's error type: ``missing``, ``extra_forbidden``, ``value_error``, ..."""


def settings_errors(exc: ValidationError) -> list[SettingsError]:
    """The problems of a failed validation, one per error, without pydantic's wrapping.

    A validator's own ``ValueError`` text is the message as written (no "Value error, "
    prefix); a rule across fields has no field and shows no value (not the whole input, which
    is every field): its message names the fields and values it is about.
    """
    out = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"])
        kind = err["type"]
        value: object = err.get("input", NOT_SHOWN)
        if kind == "missing":
            message, value = "required field is missing", NOT_SHOWN
        elif kind == "extra_forbidden":
            message = "unknown field (not allowed here)"
        elif kind in ("value_error", "assertion_error") and "error" in err.get("ctx", {}):
            message = str(err["ctx"]["error"])
        else:
            message = err["msg"]
        if not field:
            value = NOT_SHOWN
        elif isinstance(value, dict | list):
            value = json.dumps(value, default=str)[:120]
        out.append(SettingsError(field, value, message, kind))
    return out


def shown(value: object) -> str:
    """A value as the user would type it: text as is, anything else as JSON (``null``, ``-3``)."""
    return value if isinstance(value, str) else json.dumps(value, default=str)
