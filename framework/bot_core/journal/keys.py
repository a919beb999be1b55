"""Journal keys: where they come from, which one signs when, and rotation.

A key is never read from the bot's config file. It comes from, in this order:

1. ``BOT_CORE_JOURNAL_KEY_FILE``: a keyring file (JSON, owner-only permissions);
2. ``BOT_CORE_JOURNAL_KEY``: one secret (at least 32 characters), whose key id is derived from
   a hash of it (``env-1a2b3c4d``), valid at all times;
3. demo (and backtest) only: ``<BOT_CORE_HOME>/keys/journal-keyring.json``, created with a random
   key on first use. Paper and live refuse to start without 1 or 2 (:func:`keyring_for_run`).

A keyring holds every key the bot ever used, each with the time it became active. Key ``k``
signs the records whose time is in ``[k.activated_ns, next key's activated_ns)``: its window.
``bot-core journal rotate-key`` adds a key that becomes active at a given time (:func:`rotate_key`);
the old keys stay, so the whole journal still verifies. A running writer picks the new key up by
itself (it re-reads the keyring when the file changes).

File format::

    {"format": "bot-core-journal-keyring", "version": 1,
     "keys": [{"id": "k1", "activated_ns": 0, "activated_at": "1970-01-01T00:00:00.000000Z",
               "secret": "<64 hex digits>"}, ...]}
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot_core.errors import ConfigError, ConfigProblem
from bot_core.journal.files import replace_atomically
from bot_core.journal.times import format_ns

__all__ = [
    "KEYRING_FORMAT",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "MIN_SECRET_BYTES",
    "JournalKey",
    "Keyring",
    "default_keyring_path",
    "keyring_for_run",
    "keyring_for_verify",
    "load_keyring",
    "rotate_key",
]

KEY_ENV = "BOT_CORE_JOURNAL_KEY"
KEY_FILE_ENV = "BOT_CORE_JOURNAL_KEY_FILE"
KEYRING_FORMAT = "bot-core-journal-keyring"
KEYRING_VERSION = 1
MIN_SECRET_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_NEW_KEY_ID = re.compile(r"^k(\d+)$")
_HEX = re.compile(r"^[0-9a-f]+$")
_EXPLICIT_MODES = ("paper", "live")


@dataclass(frozen=True, slots=True)
class JournalKey:
    """One HMAC-SHA256 key: its id, the time it became active and the secret."""

    key_id: str
    activated_ns: int
    secret: bytes = field(repr=False)
    _base: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Keyed once; each MAC then starts from a copy, which saves re-keying on every record.
        # The OpenSSL object inside hmac.HMAC copies without the pure-Python wrapper around
        # it (a third of the cost of a short record's MAC); hmac.HMAC itself where it has none.
        keyed = hmac.new(self.secret, digestmod=hashlib.sha256)
        object.__setattr__(self, "_base", getattr(keyed, "_hmac", None) or keyed)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled without the keyed HMAC object (rebuilt on load): for verifier workers."""
        return (JournalKey, (self.key_id, self.activated_ns, self.secret))

    def new_mac(self) -> Any:
        """A fresh HMAC-SHA256 object under this key (``update``, ``hexdigest``, ``digest``)."""
        return self._base.copy()

    def sign(self, data: bytes) -> str:
        """HMAC-SHA256 of ``data``, lower-case hex."""
        mac = self._base.copy()
        mac.update(data)
        return str(mac.hexdigest())


@dataclass(frozen=True, slots=True)
class Keyring:
    """The keys a journal may be signed with, ordered by activation time."""

    keys: tuple[JournalKey, ...]
    source: str
    """Where the keys came from: a file path or ``env:BOT_CORE_JOURNAL_KEY``."""
    path: Path | None = None
    """The keyring file (None for a key from the environment)."""

    def get(self, key_id: str) -> JournalKey | None:
        for key in self.keys:
            if key.key_id == key_id:
                return key
        return None

    def window(self, key_id: str) -> tuple[int, int | None]:
        """``[start, end)`` in UTC ns of the key's validity (``end`` None: still active)."""
        for index, key in enumerate(self.keys):
            if key.key_id == key_id:
                following = self.keys[index + 1] if index + 1 < len(self.keys) else None
                return key.activated_ns, None if following is None else following.activated_ns
        raise KeyError(key_id)

    def active_at(self, ts_ns: int) -> tuple[JournalKey, int]:
        """The key that signs a record written at ``ts_ns``, and the time it stops doing so.

        Before the first key's activation, the first key (a clock set back must not stop the
        journal; the verifier reports such a record as outside the key's window).
        """
        chosen, until = self.keys[0], _FOREVER
        for index, key in enumerate(self.keys):
            if key.activated_ns <= ts_ns:
                chosen = key
                until = self.keys[index + 1].activated_ns if index + 1 < len(self.keys) \
                    else _FOREVER
        return chosen, until

    @property
    def ids(self) -> list[str]:
        return [key.key_id for key in self.keys]


_FOREVER = 1 << 63


def _env_key(value: str) -> Keyring:
    problems = []
    if value != value.strip():
        problems.append("starts or ends with whitespace (a copy-paste slip?)")
    if len(value.encode("utf-8")) < MIN_SECRET_BYTES:
        problems.append(f"must be at least {MIN_SECRET_BYTES} characters (e.g. the output of "
                        "`openssl rand -hex 32`)")
    if problems:
        raise ConfigError([ConfigProblem(f"env:{KEY_ENV}", "", "<n/a>", p) for p in problems])
    secret = value.encode("utf-8")
    key_id = "env-" + hashlib.sha256(b"bot-core journal key id\0" + secret).hexdigest()[:8]
    return Keyring((JournalKey(key_id, 0, secret),), f"env:{KEY_ENV}")


def default_keyring_path(environ: Mapping[str, str] | None = None) -> Path:
    """``<BOT_CORE_HOME>/keys/journal-keyring.json``: the demo's automatic keyring."""
    from bot_core.home import bot_core_home

    return bot_core_home(dict(environ) if environ is not None else None) / "keys" / \
        "journal-keyring.json"


def _problem(path: Path, field_path: str, message: str, value: object = "<n/a>") -> ConfigProblem:
    return ConfigProblem(str(path), field_path, value, message)


def _parse_keyring(path: Path, data: bytes) -> tuple[JournalKey, ...]:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError([_problem(path, "", f"not a JSON keyring ({exc})")]) from None
    if not isinstance(doc, dict) or doc.get("format") != KEYRING_FORMAT:
        raise ConfigError([_problem(path, "format", f"not a journal keyring (expected "
                                    f"\"format\": \"{KEYRING_FORMAT}\")")])
    if doc.get("version") != KEYRING_VERSION:
        raise ConfigError([_problem(path, "version", f"keyring version {doc.get('version')!r} "
                                    f"is not supported (this bot-core reads {KEYRING_VERSION})")])
    entries = doc.get("keys")
    if not isinstance(entries, list) or not entries:
        raise ConfigError([_problem(path, "keys", "must be a non-empty list of keys")])
    problems: list[ConfigProblem] = []
    keys: list[JournalKey] = []
    for index, entry in enumerate(entries):
        where = f"keys[{index}]"
        if not isinstance(entry, dict):
            problems.append(_problem(path, where, "must be an object with id, activated_ns "
                                     "and secret"))
            continue
        key_id, activated, secret_hex = entry.get("id"), entry.get("activated_ns"), \
            entry.get("secret")
        if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
            problems.append(_problem(path, f"{where}.id", "must be 1-32 letters, digits, "
                                     "'_', '.' or '-'", key_id))
        if not isinstance(activated, int) or isinstance(activated, bool) or activated < 0:
            problems.append(_problem(path, f"{where}.activated_ns", "must be a non-negative "
                                     "integer (UTC nanoseconds)", activated))
        if not isinstance(secret_hex, str) or not _HEX.match(secret_hex) \
                or len(secret_hex) % 2 or len(secret_hex) < 2 * MIN_SECRET_BYTES:
            problems.append(_problem(path, f"{where}.secret", "must be at least "
                                     f"{2 * MIN_SECRET_BYTES} lower-case hex digits"))
        if not problems:
            keys.append(JournalKey(str(key_id), int(activated),  # type: ignore[arg-type]
                                   bytes.fromhex(str(secret_hex))))
    if not problems:
        ids = [k.key_id for k in keys]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            problems.append(_problem(path, "keys", "key id listed twice", dup))
        for before, after in itertools.pairwise(keys):
            if after.activated_ns <= before.activated_ns:
                problems.append(_problem(path, "keys", f"key {after.key_id} must activate after "
                                         f"{before.key_id} (keys are listed in activation order)"))
    if problems:
        raise ConfigError(problems)
    return tuple(keys)


def load_keyring(path: Path, *, private: bool = False, source: str = "") -> Keyring:
    """Read a keyring file.

    :param private: refuse a file that others may read or write (what a writer requires).
    :raises ConfigError: missing, unreadable, malformed or (``private``) too open.
    """
    try:
        st = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        where = f" (from {source})" if source else ""
        raise ConfigError([_problem(path, "", f"journal key file not found{where}")]) from None
    except OSError as exc:
        raise ConfigError([_problem(path, "", f"cannot read the journal key file "
                                    f"({exc.strerror or exc})")]) from None
    if private and os.name == "posix" and st.st_mode & 0o077:
        raise ConfigError([_problem(path, "", f"others may read or change this key file (mode "
                                    f"{stat.filemode(st.st_mode)}): run chmod 600 {path}")])
    return Keyring(_parse_keyring(path, data), str(path), path)


def _keyring_document(keys: tuple[JournalKey, ...]) -> bytes:
    doc: dict[str, Any] = {
        "format": KEYRING_FORMAT,
        "version": KEYRING_VERSION,
        "keys": [{"id": k.key_id, "activated_ns": k.activated_ns,
                  "activated_at": format_ns(k.activated_ns), "secret": k.secret.hex()}
                 for k in keys],
    }
    return (json.dumps(doc, indent=2) + "\n").encode("ascii")


def _write_keyring(path: Path, keys: tuple[JournalKey, ...]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        replace_atomically(path, _keyring_document(keys), mode=0o600)
    except OSError as exc:
        raise ConfigError([_problem(path, "", f"cannot write the journal keyring "
                                    f"({exc.strerror or exc})")]) from None


def _create_keyring(path: Path) -> Keyring:
    keys = (JournalKey("k1", 0, secrets.token_bytes(MIN_SECRET_BYTES)),)
    _write_keyring(path, keys)
    return Keyring(keys, str(path), path)


def keyring_for_run(mode: str, environ: Mapping[str, str] | None = None) -> Keyring:
    """The keyring a bot running in ``mode`` signs its journal with (the runtime calls this
    before anything is written).

    Paper and live need ``BOT_CORE_JOURNAL_KEY_FILE`` or ``BOT_CORE_JOURNAL_KEY``; demo and
    backtest fall back to the home's keyring, created with a random key on first use.

    :raises ConfigError: no key for paper or live, both variables set, or a bad key (file).
    """
    env = os.environ if environ is None else environ
    explicit = _explicit_keyring(env, private=True)
    if explicit is not None:
        return explicit
    if mode in _EXPLICIT_MODES:
        raise ConfigError([ConfigProblem(
            f"env:{KEY_FILE_ENV}", "", "<missing>",
            f"a {mode} bot needs an explicit journal key: set {KEY_FILE_ENV} to a keyring "
            f"file (create one with `bot-core journal rotate-key --key-file PATH`) or "
            f"{KEY_ENV} to a secret of at least {MIN_SECRET_BYTES} characters")])
    path = default_keyring_path(env)
    if path.exists():
        return load_keyring(path, private=True)
    return _create_keyring(path)


def keyring_for_verify(key_file: Path | None,
                       environ: Mapping[str, str] | None = None) -> Keyring:
    """The keyring to verify with: ``key_file``, else the environment, else the home's
    keyring (what a demo signed with).

    :raises ConfigError: no key found anywhere, or a bad key (file).
    """
    env = os.environ if environ is None else environ
    if key_file is not None:
        return load_keyring(key_file, source="--key-file")
    explicit = _explicit_keyring(env, private=False)
    if explicit is not None:
        return explicit
    path = default_keyring_path(env)
    if path.exists():
        return load_keyring(path)
    raise ConfigError([ConfigProblem(
        "--key-file", "", "<missing>",
        f"no journal key: pass --key-file, or set {KEY_FILE_ENV} or {KEY_ENV} (demo keys are "
        f"in {path}, which does not exist)")])


def _explicit_keyring(env: Mapping[str, str], *, private: bool) -> Keyring | None:
    file_value, key_value = env.get(KEY_FILE_ENV, ""), env.get(KEY_ENV, "")
    if file_value and key_value:
        raise ConfigError([ConfigProblem(f"env:{KEY_ENV}", "", "<n/a>",
                                         f"set either {KEY_FILE_ENV} or {KEY_ENV}, not both")])
    if file_value:
        return load_keyring(Path(file_value).expanduser(), private=private,
                            source=f"env:{KEY_FILE_ENV}")
    if key_value:
        return _env_key(key_value)
    return None


def keyring_file_for_rotation(key_file: Path | None,
                              environ: Mapping[str, str] | None = None) -> Path:
    """The keyring file ``rotate-key`` changes: ``key_file``, else ``BOT_CORE_JOURNAL_KEY_FILE``,
    else the home's keyring.

    :raises ConfigError: the key comes from ``BOT_CORE_JOURNAL_KEY``, which cannot rotate.
    """
    env = os.environ if environ is None else environ
    if key_file is not None:
        return key_file
    if env.get(KEY_FILE_ENV):
        return Path(env[KEY_FILE_ENV]).expanduser()
    if env.get(KEY_ENV):
        raise ConfigError([ConfigProblem(
            f"env:{KEY_ENV}", "", "<n/a>",
            f"the journal key comes from {KEY_ENV}, which holds one key and cannot rotate: move "
            f"to a keyring file (`bot-core journal rotate-key --key-file PATH`, then set "
            f"{KEY_FILE_ENV})")])
    return default_keyring_path(env)


def rotate_key(path: Path, at_ns: int, now_ns: int) -> tuple[JournalKey, bool]:
    """Add a new random key to the keyring at ``path``, active from ``at_ns``.

    Creates the keyring (its first key active from the start of time) when ``path`` does not
    exist. Returns the new key and whether the file was created.

    :raises ConfigError: ``at_ns`` is in the past (records already signed after it would fall
        outside their key's window) or not after the last key's activation, or a bad keyring.
    """
    if not path.exists():
        return _create_keyring(path).keys[0], True
    keyring = load_keyring(path, private=True)
    last = keyring.keys[-1]
    if at_ns < now_ns:
        raise ConfigError([_problem(path, "--at", f"{format_ns(at_ns)} is in the past: records "
                                    f"signed since then with {last.key_id} would fall outside "
                                    "its window", format_ns(at_ns))])
    if at_ns <= last.activated_ns:
        raise ConfigError([_problem(path, "--at", f"must be after the activation of "
                                    f"{last.key_id} ({format_ns(last.activated_ns)})",
                                    format_ns(at_ns))])
    numbers = [int(m.group(1)) for k in keyring.keys if (m := _NEW_KEY_ID.match(k.key_id))]
    key_id = f"k{max(numbers, default=len(keyring.keys)) + 1}"
    while keyring.get(key_id) is not None:
        key_id += "x"
    new = JournalKey(key_id, at_ns, secrets.token_bytes(MIN_SECRET_BYTES))
    _write_keyring(path, (*keyring.keys, new))
    return new, False
