"""Validated configs kept between runs, so a command a person types does not validate an unchanged file again.

Validating opsbook.yaml means parsing the YAML and building pydantic's validators for every section
(`Model` defers that build until the first validation): tens of milliseconds, growing with every section
added, on every command. This cache keeps the validated config of a file and serves it only while
nothing it was made from has changed:

- the file's text and its path, as given and resolved (relative folders in it are resolved from there);
- the value, or absence, of every environment variable the loader looked up while reading it
  (`${VAR}`, `${VAR:-default}`), recorded by `RecordingEnv`;
- the code that reads it: every module of opsbook and of the libraries that parse and validate
  (size and modification time), so a new section, field or validator is never answered from an entry
  made by older code.

A file with errors is never cached: every run validates it and reports each FILE:LINE again. What a
validator reads besides the file and the environment (another file, the clock) is not part of the key, so
such a check belongs in `opsbook validate`, which always validates.

Entries hold substituted secrets, so each is encrypted (AES-GCM) with a key derived from the file's text and
the values of the variables it read: whoever lacks them learns nothing from the cache, and an entry
made with other values, altered or cut short fails to decrypt and is a miss. An entry is written to a
temporary file and renamed into place, so concurrent processes read a whole entry or none; the folder
must belong to the user and be closed to others, else the cache is not used. The newest `MAX_ENTRIES`
entries are kept.

Where: $OPSBOOK_CACHE_DIR, else $XDG_CACHE_HOME/opsbook, else ~/.cache/opsbook (its `config` folder).
`OPSBOOK_CONFIG_CACHE=off` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar, cast

T = TypeVar("T")

MAX_ENTRIES = 64
_FORMAT = b"opsbook-config-cache 1\n"
_NONCE = 12
_CODE = ("opsbook", "pydantic", "pydantic_core", "yaml")
"""Packages whose code decides what a file validates to."""


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every name looked up in it, set or not (iterating reads them all)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.read: dict[str, str | None] = {}

    def __getitem__(self, name: str) -> str:
        self.read[name] = self._env.get(name)
        return self._env[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.read[name] = self._env.get(name)
        return name in self._env

    def __iter__(self) -> Iterator[str]:
        self.read.update(self._env)
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def cached(text: str, filename: str, validate: Callable[[Mapping[str, str]], T]) -> T:
    """What `validate(env)` makes of `text` (the file `filename`) in this process's environment: from
    the cache when nothing it depends on changed, else validated now (and kept if that succeeds)."""
    folder = _folder()
    if folder is None:
        return validate(os.environ)
    entry = folder / f"{_identity(text, filename).hex()[:40]}.bin"
    found = _read(entry, text)
    if found is not None:
        return cast(T, found)  # what `validate` returned when the entry was made
    env = RecordingEnv(os.environ)
    value = validate(env)
    _write(entry, folder, text, env.read, value)
    return value


def _folder() -> Path | None:
    """The user's cache folder, made if missing; None if it is off, not ours, or open to others."""
    if os.environ.get("OPSBOOK_CONFIG_CACHE", "").lower() in ("off", "0", "no", "false"):
        return None
    base = os.environ.get("OPSBOOK_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "opsbook"
    )
    folder = Path(base, "config")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError:
        return None
    if info.st_uid != os.geteuid() or info.st_mode & 0o077 or not stat.S_ISDIR(info.st_mode):
        return None
    return folder


def _identity(text: str, filename: str) -> bytes:
    """Names the entry: the file (text, path as given and resolved) and the code that validates it."""
    digest = hashlib.sha256(_FORMAT)
    for part in (text, filename, str(Path(filename).resolve()), sys.version, *_code_stamps()):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return digest.digest()


def _code_stamps() -> Iterator[str]:
    """Size and modification time of every module of the packages in _CODE (found, not imported)."""
    for package in _CODE:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            yield f"{package}: missing"
            continue
        for root in spec.submodule_search_locations:
            yield from _tree_stamps(root)


def _tree_stamps(root: str) -> Iterator[str]:
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if name != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".so", ".pyi", ".yaml")):
                path = os.path.join(folder, name)
                info = os.stat(path)
                yield f"{path} {info.st_size} {info.st_mtime_ns}"


def _key(text: str, read: Mapping[str, str | None]) -> bytes:
    """The entry's encryption key: from the file's text and the values of the variables it read."""
    digest = hashlib.sha256(b"opsbook config cache key\0" + text.encode("utf-8", "surrogateescape"))
    for name in sorted(read):
        value = read[name]
        digest.update(b"\0" + name.encode("utf-8", "surrogateescape") + b"=")
        digest.update(b"unset" if value is None else b"set:" + value.encode("utf-8", "surrogateescape"))
    return digest.digest()


def _read(entry: Path, text: str) -> object | None:
    """The entry's value, or None if there is none made with this text and these variables' values."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        data = entry.read_bytes()
        if not data.startswith(_FORMAT):
            return None
        header, body = data[len(_FORMAT):].split(b"\n", 1)
        names = json.loads(header)
        read = {name: os.environ.get(name) for name in names}
        plain = AESGCM(_key(text, read)).decrypt(body[:_NONCE], body[_NONCE:], _FORMAT + header)
        return pickle.loads(plain)  # noqa: S301 - authenticated above with a key the reader derived
    except (OSError, ValueError, InvalidTag):  # none, cut short, or made with other values
        return None
    except Exception:  # pickled by code that has since changed (its stamps say so first): a miss
        return None


def _write(entry: Path, folder: Path, text: str, read: Mapping[str, str | None], value: object) -> None:
    """Keep `value` as the entry (atomically), then drop the oldest entries beyond MAX_ENTRIES."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        plain = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a value that cannot be pickled is not cached
        return
    header = json.dumps(sorted(read)).encode()
    nonce = os.urandom(_NONCE)
    body = nonce + AESGCM(_key(text, read)).encrypt(nonce, plain, _FORMAT + header)
    try:
        out = tempfile.NamedTemporaryFile(dir=folder, prefix=".new-", delete=False)  # noqa: SIM115
    except OSError:
        return
    try:
        with out:
            out.write(_FORMAT + header + b"\n" + body)
        os.replace(out.name, entry)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(out.name)
        return
    _prune(folder)


def _prune(folder: Path) -> None:
    entries = []
    for path in folder.glob("*.bin"):
        with contextlib.suppress(OSError):  # another process may have removed it meanwhile
            entries.append((path.stat().st_mtime_ns, path))
    for _, path in sorted(entries, reverse=True)[MAX_ENTRIES:]:
        with contextlib.suppress(OSError):
            path.unlink()
