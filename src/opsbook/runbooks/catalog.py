r"""The runbooks of the configured folders, and finding a procedure by the name people type.

`resolve("API Not Responding")`, `resolve('"Service is down"')`, a path such as
"Troubleshooting \u203a API Not Responding" (or with `>` or `/`), or a ref `runbook-id/procedure-slug`:
case and punctuation do not matter. A heading whose only content is sub-sections (`## API Not Responding`
over `### Steps`) is found by its own name too, as the procedure of its sub-sections' steps
(`sections.py`), when no procedure has that name. An ambiguous or unknown name raises `ProcedureNotFound`
whose message lists the close matches.

`Catalog.listing()` is what every list shows (`opsbook runbook list`, the API's lists, the runbooks page):
one row per set of steps that can be run, named by the shortest heading path that runs it, as typed for
`opsbook runbook run` (so "API Not Responding", with "API Not Responding > Steps" as another name of it).

`current_catalog` is how everything reads the folders (dispatcher, API, CLI, web UI): one parsed catalog
per configuration, read again as soon as a runbook file is added, removed or changed, so an edit reaches
the next notification without a restart. Telling a change costs a `stat` per file.
"""

from __future__ import annotations

import difflib
import re
import threading
import time
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path

from opsbook.errors import NotFound
from opsbook.runbooks.config import RunbooksSettings
from opsbook.runbooks.document import Procedure, Runbook
from opsbook.runbooks.parse import RunbookUnreadable, decode, parse_runbook
from opsbook.runbooks.sections import sections
from opsbook.runbooks.text import slugify, unique

_LINES = re.compile(r"\r\n?|\n")


class ProcedureNotFound(NotFound):
    """No procedure, or more than one, has the name asked for; `candidates` are close matches ("display
    (ref)"), `near` the same as found procedures."""

    def __init__(self, message: str, candidates: list[str], near: list[Found] | None = None) -> None:
        super().__init__(message)
        self.candidates = candidates
        self.near = near or []


@dataclass(frozen=True)
class Entry:
    """One runbook file in the catalog; `sections` are its headings made of sub-sections only."""

    id: str
    path: str
    runbook: Runbook
    sections: tuple[Procedure, ...] = ()


@dataclass(frozen=True)
class Found:
    """A procedure and the runbook it is in."""

    entry: Entry
    procedure: Procedure

    @property
    def ref(self) -> str:
        return f"{self.entry.id}/{self.procedure.slug}"


@dataclass
class Catalog:
    """The parsed runbooks of the configured folders (shared by every reader: never changed once built)."""

    entries: list[Entry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _names: _Names | None = field(default=None, init=False, repr=False, compare=False)

    def all(self) -> list[Found]:
        return [Found(e, p) for e in self.entries for p in e.runbook.procedures]

    def headings(self) -> list[Found]:
        """The headings of sub-sections only, as procedures (found by name; `listing` names a set of steps
        by one of them when it is the shortest name of those steps)."""
        return [Found(e, p) for e in self.entries for p in e.sections]

    def runbook(self, runbook_id: str) -> Entry | None:
        return next((e for e in self.entries if e.id == runbook_id), None)

    def resolve(self, name: str) -> Found:
        if self._names is None:  # made at the first look-up (_mark_auto, changing entries, drops it)
            self._names = _Names(self.all(), self.headings())
        return self._names.resolve(name)

    def listing(self) -> list[Listed]:
        """What a list of procedures shows (see the module docstring), runbook by runbook."""
        return [row for entry in self.entries for row in _listed(self, entry)]

    def name_of(self, found: Found) -> str:
        """What to type to get `found`: its heading path ("Database > Backups"), or its ref if that path
        names something else too."""
        path = " > ".join(found.procedure.path)
        try:
            return path if self.resolve(path).ref == found.ref else found.ref
        except ProcedureNotFound:
            return found.ref


@dataclass(frozen=True)
class Listed:
    """A row of a runbook list: the procedure that runs, the name to type for it (`Catalog.name_of`), and
    the other names that run the same steps (a heading and its one sub-section with steps)."""

    found: Found
    name: str
    also: tuple[str, ...] = ()


def _listed(catalog: Catalog, entry: Entry) -> list[Listed]:
    """`entry`'s procedures and headings of sub-sections, one row per set of procedures they run (in the
    order of their headings), each named by the one of them with the shortest heading path."""
    below: dict[tuple[str, ...], set[tuple[str, ...]]] = {}  # a heading: the procedures under it
    for own in entry.runbook.procedures:
        for k in range(1, len(own.path)):
            below.setdefault(own.path[:k], set()).add(own.path)
    headings = {p.path for p in entry.sections}
    runs: dict[frozenset[tuple[str, ...]], list[Procedure]] = {}
    in_order = sorted((*entry.runbook.procedures, *entry.sections), key=lambda p: (p.line, len(p.path)))
    for procedure in in_order:
        path = procedure.path
        runs.setdefault(frozenset(below[path] if path in headings else {path}), []).append(procedure)
    rows = []
    for same in runs.values():
        first, *others = sorted(same, key=lambda p: len(p.path))
        rows.append(Listed(Found(entry, first), catalog.name_of(Found(entry, first)),
                           tuple(catalog.name_of(Found(entry, p)) for p in others)))
    return rows


def _keys(found: Found) -> set[str]:
    path = found.procedure.path
    keys = {slugify(" ".join(path[k:]), 400) for k in range(len(path))}
    keys.add(found.ref)
    keys.add(slugify(found.ref.replace("/", " "), 400))
    keys.add(slugify(found.entry.runbook.title + " " + " ".join(path), 400))
    return keys


class _Names:
    """Every name of a catalog's procedures and headings of sub-sections, for look-ups in constant time."""

    def __init__(self, procedures: list[Found], headings: list[Found]) -> None:
        self.everything = [*procedures, *headings]
        self.refs: dict[str, Found] = {}
        for found in reversed(self.everything):
            self.refs[found.ref] = found  # the first one wins, a procedure over a heading
        self.procedures = _by_key(procedures)
        self.headings = _by_key(headings)

    def resolve(self, name: str) -> Found:
        """The one procedure called `name`, else the one heading of sub-sections (see the module
        docstring)."""
        wanted = name.strip()
        if wanted in self.refs:
            return self.refs[wanted]
        key = slugify(wanted.replace("\u203a", " ").replace(">", " ").replace("/", " "), 400)
        matches = self.procedures.get(key) or self.headings.get(key) or []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            listed = [f"{f.procedure.display}  ({f.ref})" for f in matches]
            raise ProcedureNotFound(
                f"{name!r} matches {len(matches)} procedures; use a longer path or the ref:\n  "
                + "\n  ".join(listed),
                listed,
                matches,
            )
        titles = {slugify(f.procedure.title, 400): f for f in reversed(self.everything)}
        close = difflib.get_close_matches(key, list(titles), n=5, cutoff=0.5)
        near = [titles[c] for c in close]
        near += [f for f in self.everything
                 if key and key in slugify(f.procedure.display, 400) and f not in near]
        listed = [f"{f.procedure.display}  ({f.ref})" for f in near[:8]]
        hint = ("; close matches:\n  " + "\n  ".join(listed)) if listed else ""
        raise ProcedureNotFound(f"no procedure named {name!r}{hint}", listed, near[:8])


def _by_key(founds: list[Found]) -> dict[str, list[Found]]:
    keyed: dict[str, list[Found]] = {}
    for found in founds:
        for key in _keys(found):
            keyed.setdefault(key, []).append(found)
    return keyed


@dataclass(frozen=True)
class _Folder:
    root: Path
    files: tuple[Path, ...] | None  # None: the folder does not exist


def _folders(settings: RunbooksSettings, base_dir: str | Path) -> list[_Folder]:
    folders = []
    for folder in settings.folders:
        root = Path(folder)
        if not root.is_absolute():
            root = Path(base_dir) / root
        files = (
            tuple(sorted(p for p in root.rglob("*") if p.suffix.lower() in (".md", ".markdown")))
            if root.is_dir()
            else None
        )
        folders.append(_Folder(root, files))
    return folders


def _load(settings: RunbooksSettings, folders: list[_Folder]) -> Catalog:
    """Read and parse every `*.md` of `folders` (unreadable, binary or non-UTF files become `errors`)."""
    catalog = Catalog()
    used: set[str] = set()
    for folder in folders:
        if folder.files is None:
            catalog.errors.append(f"{folder.root}: runbook folder not found")
            continue
        for path in folder.files:
            try:
                text = decode(path.read_bytes(), str(path))
            except OSError as exc:
                catalog.errors.append(f"{path}: {exc.strerror}")
                continue
            except RunbookUnreadable as exc:
                catalog.errors.append(str(exc))
                continue
            name = str(path.relative_to(folder.root).with_suffix("")).replace("/", " ")
            rb_id = unique(slugify(name, 80), used)
            runbook = parse_runbook(text, str(path))
            heads = sections(runbook.procedures, _LINES.split(text))
            catalog.entries.append(Entry(rb_id, str(path), runbook, heads))
    _mark_auto(catalog, settings.auto)
    return catalog


def _mark_auto(catalog: Catalog, names: list[str]) -> None:
    for name in names:
        try:
            found = catalog.resolve(name)
        except ProcedureNotFound as exc:
            catalog.errors.append(f"runbooks.auto: {exc}")
            continue
        for i, entry in enumerate(catalog.entries):
            if entry is found.entry:
                procs = tuple(
                    dc_replace(p, auto=True) if p is found.procedure else p for p in entry.runbook.procedures
                )
                heads = tuple(dc_replace(p, auto=True) if p is found.procedure else p for p in entry.sections)
                catalog.entries[i] = Entry(
                    entry.id, entry.path, dc_replace(entry.runbook, procedures=procs), heads)
                catalog._names = None  # its procedures changed: look them up again


# --- the current catalog ---------------------------------------------------------------------------

RACY_NS = 2_000_000_000
"""A file changed less than this long ago may change again within the same mtime tick (filesystems keep
mtimes to 1 ns, 4 ms or up to 2 s), so a catalog holding one is read again at the next call."""
CACHED = 32  # configurations remembered (one per opsbook.yaml in practice; tests open many)

Stamp = tuple[str, int, int]  # path, size, mtime_ns


@dataclass(frozen=True)
class _Cached:
    stamps: tuple[tuple[str, tuple[Stamp, ...] | None], ...]
    catalog: Catalog
    settled: bool  # False: some file was too recent to trust its mtime


_cache: dict[tuple[str, tuple[str, ...], tuple[str, ...]], _Cached] = {}
_lock = threading.Lock()


def _stamps(folders: list[_Folder]) -> tuple[tuple[str, tuple[Stamp, ...] | None], ...]:
    out = []
    for folder in folders:
        files: list[Stamp] | None = None
        if folder.files is not None:
            files = []
            for path in folder.files:
                try:
                    st = path.stat()
                except OSError:
                    files.append((str(path), -1, -1))
                    continue
                files.append((str(path), st.st_size, st.st_mtime_ns))
        out.append((str(folder.root), None if files is None else tuple(files)))
    return tuple(out)


def current_catalog(settings: RunbooksSettings, config_dir: str | Path) -> Catalog:
    """The catalog of `settings`' folders (relative ones from `config_dir`), parsed again only when a
    runbook file was added, removed or changed since the last call: unchanged, the same object is
    returned. Thread-safe."""
    base = Path(config_dir).resolve()
    key = (str(base), tuple(settings.folders), tuple(settings.auto))
    with _lock:
        # the wall clock, not opsbook's: it is compared with the filesystem's mtimes
        started = time.time_ns()
        folders = _folders(settings, base)
        stamps = _stamps(folders)
        cached = _cache.get(key)
        if cached is not None and cached.settled and cached.stamps == stamps:
            return cached.catalog
        catalog = _load(settings, folders)
        newest = max((f[2] for _root, files in stamps for f in files or ()), default=0)
        _cache.pop(key, None)
        _cache[key] = _Cached(stamps, catalog, settled=newest < started - RACY_NS)
        while len(_cache) > CACHED:
            del _cache[next(iter(_cache))]
        return catalog


def catalog_of(settings: RunbooksSettings) -> Catalog:
    """The current catalog of a loaded config's runbook folders (relative ones from the config's folder)."""
    return current_catalog(settings, settings.base_dir)
