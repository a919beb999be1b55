"""Environment variables: ``BOT_CORE_<SECTION>__<FIELD>`` overrides as a configuration layer.

Every variable with the ``BOT_CORE_`` prefix is either a setting or one of :data:`NOT_SETTINGS`;
any other is an error naming the closest valid name, so that a typo
(``BOT_CORE_RSIK__MAX_POSITION_PCT``, ``BOT_CORE_RISK_MAX_POSITION_PCT``) is never silently
ignored.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import json
from collections.abc import Iterator, Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from bot_core.config.models import BotConfig
from bot_core.config.validation import NOT_SHOWN
from bot_core.errors import ConfigProblem

__all__ = ["ENV_PREFIX", "NOT_SETTINGS", "env_layers", "is_not_a_setting", "is_setting"]

ENV_PREFIX = "BOT_CORE_"

NOT_SETTINGS: Mapping[str, str] = {
    "BOT_CORE_HOME": "the state directory (bot_core.home)",
    "BOT_CORE_DISABLE_PLUGINS": "plugins or distributions to block, comma-separated",
    "BOT_CORE_TRACE_HOOKS": "1 prints every hook call to stderr",
    "BOT_CORE_DATA_MAX_MB": "largest data file an import reads, MB (bot_core.data.schema)",
    "BOT_CORE_TEST_RESULTS": "where the test suite writes its reports (tox.ini)",
    "BOT_CORE_JOURNAL_KEY": "the secret the decision journal is signed with",
    "BOT_CORE_JOURNAL_KEY_FILE": "a keyring file of the decision journal's keys",
    "BOT_CORE_JOURNAL_FSYNC": "when the journal forces records to disk (record, or 100ms)",
    "BOT_CORE_JOURNAL_MAX_FILE_MB": "size at which the journal begins a new file, MiB",
    "BOT_CORE_FAULT_POINT": "a fault to inject, for tests",
    "BOT_CORE_GRPC_TLS_CA": "CA certificate of the gRPC connection",
    "BOT_CORE_GRPC_TLS_CERT": "client certificate of the gRPC connection",
    "BOT_CORE_GRPC_TLS_KEY": "client key of the gRPC connection",
    "BOT_CORE_GRPC_HEADERS": "extra headers of the gRPC connection",
    "BOT_CORE_DASK_SCHEDULER": "address of the Dask scheduler",
    "BOT_CORE_VENUE_<NAME>_API_KEY": "API key of venue <NAME> (exchange adapters' default)",
    "BOT_CORE_VENUE_<NAME>_API_SECRET": "API secret of venue <NAME>",
    "BOT_CORE_VENUE_<NAME>_API_PASSWORD": "API passphrase of venue <NAME>, where it has one",
}
"""``BOT_CORE_*`` variables that are not configuration settings, and what each is for;
``<NAME>`` stands for any name (a venue's, upper case).

Every other ``BOT_CORE_*`` name must be a setting; a new variable read elsewhere in bot-core
belongs here (tests/test_config.py fails when one in the repository is missing)."""

# The shape of a node in the config tree, as far as variable names can reach.
_MODEL, _NAMED, _FREE, _LEAF = "model", "named", "free", "leaf"


def _node(annotation: Any) -> tuple[str, Any]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _MODEL, annotation
    if get_origin(annotation) is dict:
        value_type = get_args(annotation)[1]
        if isinstance(value_type, type) and issubclass(value_type, BaseModel):
            return _NAMED, value_type  # e.g. strategies.<name>: any name, then its model
        return _FREE, None  # params, settings: the plugin's model decides what is valid
    return _LEAF, None


def is_not_a_setting(name: str) -> bool:
    """Whether ``name`` is one of :data:`NOT_SETTINGS` (``<NAME>`` matching any name)."""
    return any(fnmatch.fnmatchcase(name, known.replace("<NAME>", "*")) for known in NOT_SETTINGS)


def _path(name: str) -> list[str]:
    return name[len(ENV_PREFIX):].lower().split("__")


def is_setting(name: str) -> bool:
    """Whether a ``BOT_CORE_*`` variable names a configuration setting (or a table of them)."""
    kind, model = _MODEL, BotConfig
    for part in _path(name):
        if not part:
            return False
        if kind == _FREE:
            continue  # below params / settings: the plugin's model decides
        if kind == _NAMED:
            kind = _MODEL
            continue
        if kind == _LEAF or part not in model.model_fields:
            return False
        kind, model = _node(model.model_fields[part].annotation)
    return True


def _names(model: type[BaseModel], prefix: str, known: Mapping[str, Any]) -> Iterator[str]:
    """Every setting name below ``model``, instance names taken from the layers read so far."""
    for field_name, info in model.model_fields.items():
        name = f"{prefix}{field_name.upper()}"
        yield name
        kind, sub = _node(info.annotation)
        given = known.get(field_name)
        if kind == _MODEL:
            yield from _names(sub, name + "__", given if isinstance(given, Mapping) else {})
        elif kind == _NAMED and isinstance(given, Mapping):
            for key, value in given.items():
                yield f"{name}__{key.upper()}"
                yield from _names(sub, f"{name}__{key.upper()}__",
                                  value if isinstance(value, Mapping) else {})


def _closest(name: str, known: Mapping[str, Any]) -> str:
    candidates = [*_names(BotConfig, ENV_PREFIX, known), *NOT_SETTINGS]
    return difflib.get_close_matches(name, candidates, n=1, cutoff=0.0)[0]


def env_layers(environ: Mapping[str, str], known: Mapping[str, Any]
               ) -> tuple[list[tuple[str, dict[str, Any]]], list[ConfigProblem]]:
    """The ``BOT_CORE_*`` settings of ``environ`` as layers (``env:NAME``, a nested table each).

    Values are text; a value starting with ``[`` or ``{`` is read as JSON (lists, tables).

    :param known: the configuration merged from the layers below (presets, file); it supplies
        the strategy, venue and bucket names that a suggestion may use.
    :return: the layers, and one problem per variable that is neither a setting nor one of
        :data:`NOT_SETTINGS` (naming the closest valid name).
    """
    layers: list[tuple[str, dict[str, Any]]] = []
    problems: list[ConfigProblem] = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or is_not_a_setting(name):
            continue
        if not is_setting(name):
            # the value is not shown: a mistyped name may well hold a key
            problems.append(ConfigProblem(
                f"env:{name}", "", NOT_SHOWN,
                f"no setting has this name; closest valid name: {_closest(name, known)} "
                "(settings are BOT_CORE_<SECTION>__<FIELD>, two underscores between levels)"))
            continue
        raw = environ[name]
        value: Any = raw
        if raw[:1] in "[{":  # lists and tables as JSON; anything else stays a string
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(raw)
        parts = _path(name)
        doc: dict[str, Any] = {}
        cursor = doc
        for part in parts[:-1]:
            cursor = cursor.setdefault(part, {})
        cursor[parts[-1]] = value
        layers.append((f"env:{name}", doc))
    return layers, problems
