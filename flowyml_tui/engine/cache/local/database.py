"""The local store's database: opening and healing it, and the rows every part of the store
reads (entry metadata kept in memory, each step's version list, the meta tables)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import stat
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import diskcache
import msgspec
from diskcache.core import MODE_RAW

from ...errors import CacheError, CacheFullError
from .. import files, tables
from ..entry import KEY_FORMAT, Entry, decode_entry
from ..notices import Notices
from ..private import (
    check_private,
    ensure_cache_dir,
    ensure_private_dir,
    ensure_private_file,
    refuse_empty,
)
from ..safedisk import SafeDisk

DEFAULT_CACHE_DIR = ".flowyml/cache"
DEFAULT_SIZE_LIMIT = 4 * 2**30

PINS = "meta:pins"
INVALIDATED = "meta:invalidated"
STATS = "meta:stats"
USED = "meta:used"
CURRENT = "meta:current"
COSTS = "meta:cache_costs"
VERDICTS = "meta:cache_verdicts"
GENERATION = "meta:generation"
FORMAT = "meta:format"
VERSIONS = "versions:"
_L1_LIMIT = 50_000
SHAPES = {
    PINS: tables.PER_STEP_KEY,
    INVALIDATED: tables.PER_STEP_TIME,
    STATS: tables.PER_STEP_COUNTS,
    USED: tables.PER_ENTRY_TIME,
    CURRENT: tables.PER_STEP_KEY,
    COSTS: tables.PER_STEP_FIGURES,
    VERDICTS: tables.PER_PIPELINE_VERDICTS,
}


Method = TypeVar("Method", bound=Callable[..., Any])


def heals_damage(method: Method) -> Method:
    """A method that meets a damaged database (a bad page behind a valid header) sets it aside,
    starts an empty one and runs once more there: one warning, never a permanent traceback.

    Only the outermost such call heals: one nested in it must not reopen the database under
    the caller's feet. The hot per-step reads and writes are not wrapped (a run treats their
    errors as a miss or "not cached"); the run's bookkeeping around them is.
    """

    @functools.wraps(method)
    def healing(self: LocalDatabase, *args: Any, **kwargs: Any) -> Any:
        if self._healing:
            return method(self, *args, **kwargs)
        self._healing = True
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if not self.heal_if_damaged(exc):
                raise
        finally:
            self._healing = False
        return method(self, *args, **kwargs)

    return healing  # type: ignore[return-value]


_NO_ROW = object()
"""What `_small_row` answers for a row that is not there."""

WriteMark = tuple[object, int, int]
"""(what names the connection, its `data_version`, its `total_changes`): `write_mark`."""


class Waiting(NamedTuple):
    """One pipeline's replayed runs waiting to be counted (`LocalWorkspace.count_replay`)."""

    used: dict[str, str]
    """The entries they used."""
    runs: dict[tuple[str, ...], int]
    """The steps a replay hit -> how many replays hit exactly those."""


class LocalDatabase:
    """One diskcache (SQLite) under the cache dir, safe to open from several processes at once:
    the connection, its healing, and the rows the entries, the workspace and upkeep share."""

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR,
        *,
        size_limit: int = DEFAULT_SIZE_LIMIT,
    ) -> None:
        refuse_empty(os.fspath(cache_dir))
        self._healing = False
        """A `heals_damage` method is running: calls inside it do not heal again."""
        self.path = Path(cache_dir).expanduser().absolute()
        self.size_limit = size_limit
        open_private(self.path)
        self._l1: dict[str, Entry] = {}
        self._missed: str | None = None
        """The last key `get_entry` found no row for: a cold step is asked for twice (the lean
        hit path, then the full decision), and the second asks SQLite nothing. Forgotten at
        a run's start (`_refresh`) and whenever this handle writes or deletes entries."""
        self._no_versions: str | None = None
        """The last version list `_versions` found no row for: a new step's list is asked for
        by its miss's explanation, then written by `put_entry`, which then INSERTs it without
        reading it again. Only a hint: the INSERT itself finds a row another writer added."""
        self._opened = 0
        """Counts this handle's closes: a connection after one is another, at any address."""
        self._thread = threading.local()
        """This thread's connection, as `write_mark` last saw it, and the object naming it."""
        self._views: dict[str, tuple[WriteMark, str | None, dict[str, Any]]] = {}
        """Meta table name -> (the database's write mark before it was read, its row as read,
        decoded): see `_meta_view`."""
        self._generation_seen: tuple[WriteMark, int] | None = None
        """The deletion counter as read, and the write mark before it was: `_generation_now`
        reads it again only once something was written."""
        self._counters: tuple[WriteMark, str, dict[str, Any]] | None = None
        """The counters row this handle last wrote, decoded: `record_run` changes that copy
        rather than decode the row again while no other writer has replaced it."""
        self._waiting: dict[str, Waiting] = {}
        """Pipeline -> its replayed runs, counted with this handle's next commit
        (`LocalWorkspace.count_replay`)."""
        self._waiting_pid = os.getpid()
        """The process that counted them: a forked child never commits its parent's."""
        self._committed_at = float("-inf")
        """When (`time.monotonic`) this handle last committed its run bookkeeping."""
        self.unreadable: set[str] = set()
        """Keys whose metadata could not be read: the executor reports them as corrupt."""
        self.notices: Notices | None = None
        """Set when a shared tier was asked for but not used: each run says so."""
        self._full = False
        """The disk ran full during this run: nothing more is written until `refresh()`."""
        self._mark = files.WriterMark(self.path / "store")
        self._open_with_recovery()
        self._generation = self._generation_now()
        dead = files.dead_writers(self.path / "store")
        if dead:  # a writer died mid-write: its value files may be orphans
            self._collect()
            for marker in dead:
                marker.unlink(missing_ok=True)

    def _open_diskcache(self) -> None:
        # `cull_limit=0`: diskcache's `set` looks for expired rows to drop each time, and the
        # store never sets an expiry (it evicts by its own rules, `evict`): a query a write.
        self._cache = diskcache.Cache(
            str(self.path / "store"),
            disk=SafeDisk,
            eviction_policy="none",
            size_limit=2**62,
            statistics=False,
            cull_limit=0,
        )
        self._check_format()

    @property
    def database(self) -> diskcache.Cache:
        """The diskcache database underneath, for tools and fault tests that must reach its
        rows themselves. Writing here bypasses every check the store makes on its own writes."""
        return self._cache

    def _open_with_recovery(self) -> None:
        """Open the database; one that is not a database is moved aside, a full disk is
        freed of orphans first: neither may make every later run fail."""
        store_dir = self.path / "store"
        try:
            self._open_diskcache()
            return
        except Exception as exc:
            problem = exc
        if files.is_not_a_database(problem):
            self._set_aside(problem)
        elif files.is_disk_full(problem, store_dir):
            self._close_quietly()
            keep = files.referenced_read_only(store_dir)
            if keep is not None:
                files.remove_orphans(store_dir, keep)
        else:
            raise CacheError(
                f"cannot open the cache at {self.path}: {problem}; "
                "move it away or pass another --cache-dir"
            ) from problem
        try:
            self._open_diskcache()
        except Exception as exc:
            if files.is_disk_full(exc, store_dir):
                self._close_quietly()
                raise CacheFullError(
                    f"the disk holding the cache at {self.path} is full ({exc}): free some "
                    f"space, e.g. `flowyml-tui cache clear --cache-dir {self.path}` (works on "
                    "a full disk)"
                ) from exc
            raise CacheError(
                f"cannot open the cache at {self.path}: {exc}; "
                "move it away or pass another --cache-dir"
            ) from exc

    def _set_aside(self, problem: BaseException) -> None:
        """Move a damaged database aside (`cache gc` reclaims it) and make way for a fresh one."""
        store_dir = self.path / "store"
        self._close_quietly()
        kept = files.move_aside(store_dir)
        warnings.warn(
            f"the cache database in {store_dir} was damaged ({problem}); it was moved to "
            f"{kept.name} and an empty cache started (cached results are lost, nothing else; "
            "`flowyml-tui cache gc` deletes the damaged copy)",
            stacklevel=5,
        )
        files.remove_orphans(store_dir, keep=set())  # no row points to any of them now
        open_private(self.path)  # a fresh cache.db, 0600 before sqlite touches it

    def heal_if_damaged(self, problem: BaseException) -> bool:
        """After a query failed: if SQLite finds the database damaged (a bad page behind a
        valid header), set it aside and open an empty one; True if it did. Checked only here,
        never on a healthy open: `PRAGMA quick_check` reads every page."""
        if not files.is_not_a_database(problem):
            return False
        if files.passes_quick_check(self.path / "store" / files.DB_NAME):
            return False
        self._set_aside(problem)
        self._open_diskcache()
        self._l1.clear()
        self._views.clear()
        self._generation_seen = None
        self._counters = None
        self._generation = self._generation_now()
        return True

    def _close_quietly(self) -> None:
        self._opened += 1
        cache = getattr(self, "_cache", None)
        if cache is not None:
            with contextlib.suppress(Exception):
                cache.close()

    def _generation_now(self, mark: WriteMark | None = None) -> int:
        """The deletion counter; a bad one is reset (it only has to change, never to count).

        Asked at every run's start: read again only when the write mark (`mark`: taken just
        now) moved (a cached run's own counters commit keeps it, `_views_kept`), a query fewer
        per run."""
        if mark is None:
            mark = self.write_mark()
        seen = self._generation_seen
        if seen is not None and seen[0] == mark:
            return seen[1]
        value = self._cache.get(GENERATION, 0)
        if type(value) is int:
            if not self._cache._con.in_transaction:  # a row read in one may be rolled back
                self._generation_seen = (mark, value)
            return value
        warnings.warn(
            f"cache metadata {GENERATION} in {self.path} was unreadable; reset", stacklevel=3
        )
        with contextlib.suppress(Exception):
            self._cache.set(GENERATION, 0)
        return 0

    def _check_format(self) -> None:
        """Empty a store written in another layout: its entries would be misread, not reused."""
        found = self._cache.get(FORMAT)
        if found == str(KEY_FORMAT):
            return
        if len(self._cache):
            warnings.warn(
                f"the cache at {self.path} was written by another version of flowyml-tui "
                f"(format {found or 1}, now {KEY_FORMAT}); its entries were dropped",
                stacklevel=3,
            )
            self._wipe()
        self._cache.set(FORMAT, str(KEY_FORMAT))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def close(self) -> None:
        self._opened += 1
        self._cache.close()
        self._mark.release()

    @property
    def generation(self) -> int | None:
        """The deletion counter as of the last `refresh` (or this handle's own deletion)."""
        return self._generation

    @heals_damage
    def refresh(self) -> None:
        """Drop the in-memory metadata if any process deleted entries since we read them."""
        self._refresh(self.write_mark())

    def _refresh(self, mark: WriteMark) -> None:
        self._full = False
        self._missed = self._no_versions = None
        generation = self._generation_now(mark)
        if generation != self._generation:
            self._l1.clear()
            self._generation = generation

    def get_entry(self, key: str) -> Entry | None:
        """The metadata of one entry, or None; unreadable or malformed metadata is absent."""
        entry = self._l1.get(key)
        if entry is not None:
            return entry
        if key == self._missed:
            return None
        raw = self._cache.get("e:" + key)
        if raw is None:
            self._missed = key
            return None
        return self._read_entry(key, raw)

    def _read_entry(self, key: str, raw: Any) -> Entry | None:
        """Stored metadata -> its entry, kept in memory; unreadable or misplaced is absent."""
        try:
            if not isinstance(raw, (bytes, str)):
                raise ValueError("not JSON")
            entry = decode_entry(raw)
            if entry.key != key:
                raise ValueError("an entry stored under another key")
        except (ValueError, msgspec.DecodeError):  # ValidationError is a DecodeError
            self.unreadable.add(key)
            return None
        self._remember(entry)
        return entry

    def _remember(self, entry: Entry) -> None:
        self._missed = None
        if len(self._l1) >= _L1_LIMIT:
            self._l1.clear()
        self._l1[entry.key] = entry

    def _deleted(self) -> None:
        """Tell every process's L1 that entries went (call inside the deleting transaction)."""
        try:
            self._generation = self._cache.incr(GENERATION, default=0)
        except TypeError:  # a row that is not our int (planted, or a bad byte): start afresh
            self._cache.set(GENERATION, self._generation + 1)
            self._generation += 1
        self._l1.clear()
        self._missed = self._no_versions = None

    def _versions(self, pipeline: str, step: str) -> list[str]:
        scope = versions_key(pipeline, step)
        raw = self._small_row(scope)
        if raw is _NO_ROW:
            self._no_versions = scope
            return []
        keys, ok = tables.decode(raw, tables.VERSIONS)
        if not ok or raw is None:  # a row SafeDisk refused
            keys = self._rebuild_versions(pipeline, step)
            warnings.warn(
                f"the version list of step {step!r} (pipeline {pipeline!r}) in {self.path} "
                "was unreadable; rebuilt from its entries",
                stacklevel=3,
            )
            with contextlib.suppress(Exception):  # healing is best effort (a full disk)
                if keys:
                    self._cache.set(scope, json.dumps(keys))
                else:
                    self._cache.delete(scope)
        return keys

    def _rebuild_versions(self, pipeline: str, step: str) -> list[str]:
        """A step's entry keys, oldest first, from the entries themselves (a slow scan)."""
        found = []
        for name in self._keys("e:"):
            entry = self.get_entry(name[2:])
            if entry is not None and (entry.pipeline, entry.step) == (pipeline, step):
                found.append((entry.created_ns, entry.key))
        return [key for _, key in sorted(found)]

    @heals_damage
    def current(self, pipeline: str) -> dict[str, str]:
        """Step -> the entry key the pipeline's last run used: what a reason compares with."""
        return table_of(self._meta_view(CURRENT).get(pipeline))

    def _collect(self) -> dict[str, int]:
        """`gc` without reclaiming set-aside databases: what an open after a killed writer
        and a failed write do, so a damaged copy stays for a post-mortem until `cache gc`."""
        store_dir = self.path / "store"
        with self._cache.transact():
            removed, freed = files.remove_orphans(store_dir, files.referenced(self._cache._sql))
            rows = self._drop_unreadable_rows()
        return {"files": removed, "bytes": freed, "rows": rows}

    def _drop_unreadable_rows(self) -> int:
        """Heal what a bad byte left: version lists and meta tables that do not decode."""
        dropped = 0
        for name in list(self._keys(VERSIONS)):
            if not self._row_ok(name, tables.VERSIONS):
                try:
                    pipeline, step = json.loads(name[len(VERSIONS) :])
                    self._versions(str(pipeline), str(step))  # rebuilds it
                except (TypeError, ValueError):
                    self._cache.delete(name)
                dropped += 1
        for name in SHAPES:
            if not self._row_ok(name, SHAPES[name]):
                self._meta(name)  # rewrites what could be saved
                dropped += 1
        return dropped

    def _row_ok(self, name: str, shape: Any) -> bool:
        raw = self._cache.get(name)
        return tables.decode(raw, shape)[1] and not (raw is None and name in self._cache)

    def _meta(self, name: str) -> dict[str, Any]:
        """A meta table, its shape checked; a bad one is warned about and rewritten."""
        return self._decode_meta(name, self._cache.get(name))

    def _meta_view(self, name: str, mark: WriteMark | None = None) -> dict[str, Any]:
        """`_meta` for a reader that does not change the table: decoded once per distinct row.

        Each meta table is one JSON row holding every step of every pipeline in the cache
        dir, and a run reads the current, pins and invalidation tables when it starts and the
        current one again when it ends: a 1000-step pipeline's rows cost ~0.3 ms a decode.
        `mark`: a write mark the caller took just now, for several tables read as of it.
        """
        if mark is None:
            mark = self.write_mark()
        seen = self._views.get(name)
        if seen is not None and seen[0] == mark:  # nothing written since: not even read again
            return seen[2]
        raw = self._cache.get(name)
        if seen is not None and raw is not None and seen[1] == raw:
            table = seen[2]
        else:
            table = self._decode_meta(name, raw)
        # kept only outside a transaction: a row read inside one may be this connection's own
        # write, which a rollback takes back without moving the mark
        if (raw is None or isinstance(raw, str)) and not self._cache._con.in_transaction:
            self._views[name] = (mark, raw, table)
        return table

    def _views_kept(self, before: WriteMark, after: WriteMark, written: tuple[str, ...]) -> None:
        """After this connection's own committed transaction, which took the mark `before` with
        the write lock held and `after` at its end: the views that held at `before`, of rows it
        did not write, still hold (a cached run's counters would otherwise make every run read
        the tables at its start again)."""
        views = self._views
        for name, (mark, raw, table) in list(views.items()):
            if mark == before and name not in written:
                views[name] = (after, raw, table)
        seen = self._generation_seen
        if seen is not None and seen[0] == before and GENERATION not in written:
            self._generation_seen = (after, seen[1])

    def write_mark(self) -> WriteMark:
        """What moves whenever anything is written to the database: by another connection, in
        any process (SQLite's `data_version`), or by this one (its `total_changes`). While it
        has not moved, every row read since it was taken is still the row on disk.

        A row read again is a query and, for a 1000-step pipeline's tables, 50 kB copied out
        of SQLite: ~0.2 ms a table, read at every run's start and end (`benchmarks/`)."""
        con, local, pid = self._cache._con, self._thread, os.getpid()
        # Named by an object of ours, not the connection itself: held in the views, it kept
        # the connection from closing (and SQLite from removing its WAL) when a process ended.
        # A new object whenever the connection may be another one: another thread (a local of
        # its own), a fork, a close, or another address.
        if getattr(local, "seen", None) != (id(con), pid, self._opened):
            local.seen, local.name = (id(con), pid, self._opened), object()
        return local.name, con.execute("PRAGMA data_version").fetchone()[0], con.total_changes

    def _mark_after_own_commit(self, before: WriteMark) -> WriteMark:
        """The write mark just after this connection committed a transaction that took
        `before` with the write lock held, without asking SQLite: no other connection
        committed in between, and `data_version` does not move for a connection's own
        commits. One that commits after ours moves the mark a later `write_mark` reads."""
        return before[0], before[1], self._cache._con.total_changes

    def _decode_meta(self, name: str, raw: Any) -> dict[str, Any]:
        table, ok = tables.decode(raw, SHAPES.get(name, dict[str, Any]))
        if not ok or (raw is None and name in self._cache):  # a row SafeDisk refused
            warnings.warn(
                f"cache metadata {name} in {self.path} was unreadable; kept what could be "
                "read, dropped the rest",
                stacklevel=3,
            )
            with contextlib.suppress(Exception):  # healing is best effort (a full disk)
                self._set_meta(name, table)
        return table

    def _set_meta(self, name: str, table: dict[str, Any]) -> None:
        self._cache.set(name, JSON_ENCODER.encode(table).decode())

    def _add_row(self, key: str, value: bytes | str, *, replace: bool = True) -> bool:
        """`cache.set` of a row that is nearly always new (an entry, its values, a function's
        source), in the caller's transaction: one INSERT where diskcache's `set` looks the
        key up first, a third of a cold step's statements. A row already there is replaced
        by `set` (its old file removed), or with `replace=False` kept as it is. True when
        the INSERT added the row."""
        cache = self._cache
        size, mode, filename, stored = cache.disk.store(value, False, key=key)
        now = time.time()
        added = cache._con.execute(
            "INSERT OR IGNORE INTO Cache(key, raw, store_time, expire_time, access_time,"
            " access_count, tag, size, mode, filename, value)"
            " VALUES (?, 1, ?, NULL, ?, 0, NULL, ?, ?, ?, ?)",
            (key, now, now, size, mode, filename, stored),
        ).rowcount
        if added == 1:
            return True
        if filename is not None:  # the file this INSERT would have pointed to
            cache.disk.remove(filename)
        if replace:
            cache.set(key, value)
        return False

    def _small_row(self, name: str) -> Any:
        """`cache.get(name)` of a row kept inside the database, in one SELECT, or `_NO_ROW`
        when there is none: diskcache's `get` answers None both for no row and for one
        SafeDisk refused, and telling those apart took a second query. A row kept in a file
        or in another mode goes through `get` (None if refused)."""
        row = self._cache._con.execute(
            "SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = 1", (name,)
        ).fetchone()
        if row is None:
            return _NO_ROW
        mode, filename, value = row
        if mode == MODE_RAW and filename is None:
            return value
        return self._cache.get(name)

    def _set_text(self, name: str, text: str) -> None:
        """`cache.set(name, text)` of a row every run rewrites (the counters): one UPDATE in
        place while the row and `text` both stay inside the database, under diskcache's file
        size. diskcache's `set` also looks the row up first: two statements, and more Python
        than SQL. Any other case (no row yet, a row kept in a file, a long text) is
        diskcache's own `set`."""
        if len(text.encode()) < self._cache.disk.min_file_size:
            now = time.time()
            done = self._cache._con.execute(
                "UPDATE Cache SET store_time = ?, access_time = ?, value = ?"
                " WHERE key = ? AND raw = 1 AND mode = ? AND filename IS NULL",
                (now, now, text, name, MODE_RAW),
            )
            if done.rowcount == 1:
                return
        self._cache.set(name, text)

    def _update(
        self,
        name: str,
        pipeline: str,
        values: dict[str, Any] | None = None,
        drop: Iterable[str] = (),
    ) -> bool:
        """Set and drop steps in one pipeline's part of a meta table; True if any was dropped."""
        table = self._meta(name)
        mine = table_of(table.get(pipeline))
        dropped = False
        for step in drop:
            dropped = mine.pop(step, None) is not None or dropped
        mine.update(values or {})
        if mine:
            table[pipeline] = mine
        else:
            table.pop(pipeline, None)
        self._set_meta(name, table)
        return dropped

    def _keys(self, prefix: str) -> Iterator[str]:
        for key in self._cache.iterkeys():
            if isinstance(key, str) and key.startswith(prefix):
                yield key

    def _wipe(self) -> None:
        """Empty the database and every value file (files first: on a full disk that frees
        the space sqlite then needs to delete its rows)."""
        store_dir = self.path / "store"
        self._mark.hold()
        with self._cache.transact():
            files.remove_orphans(store_dir, keep=set())
            generation = self._generation_now()
            self._cache.clear()
            self._cache.set(GENERATION, generation)
            self._cache.set(FORMAT, str(KEY_FORMAT))
            self._deleted()


def versions_key(pipeline: str, step: str) -> str:
    return VERSIONS + json.dumps([pipeline, step], separators=(",", ":"))


JSON_ENCODER = msgspec.json.Encoder()
"""Meta tables are plain JSON; msgspec writes (and, in tables.py, reads) it several times
faster than json, which matters because a run reads and rewrites them every time."""


def table_of(value: Any) -> dict[str, Any]:
    """A pipeline's part of a meta table, or an empty one if it is missing or malformed."""
    return dict(value) if isinstance(value, dict) else {}


def open_private(path: Path) -> None:
    """Check (or create 0700) every path the store opens before diskcache reads any of it.

    The cache dir, `store/`, `cache.db` and its SQLite side files, and the value subdirs must
    be ours and not writable by others; a project root is refused. Nothing is chmodded.
    """
    ensure_cache_dir(path)
    store = path / "store"
    ensure_private_dir(store, "cache store")
    ensure_private_file(store / "cache.db", "cache database")
    for suffix in ("-wal", "-shm", "-journal"):
        side = store / ("cache.db" + suffix)
        try:
            info = os.lstat(side)
        except FileNotFoundError:  # absent, or removed just now by another process's sqlite
            continue
        check_private(side, info, "cache database file", is_dir=False)
    me = os.getuid() if hasattr(os, "getuid") else None
    with os.scandir(store) as found:  # up to 256 value dirs: the quick test first
        for item in found:
            if len(item.name) != 2:
                continue
            try:
                info = item.stat(follow_symlinks=False)
            except FileNotFoundError:  # emptied and removed by another process just now
                continue
            if (
                stat.S_ISDIR(info.st_mode)
                and not info.st_mode & 0o022
                and me in (None, info.st_uid)
            ):
                continue
            check_private(Path(item.path), info, "cache value dir", is_dir=True)
