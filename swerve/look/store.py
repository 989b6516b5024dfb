"""The project store: one SQLite file per project folder (``<out>/swerve.db`` beside the studio's output).

It holds every kept picture (its recipe, a PNG thumbnail, the measures taken when it was kept and the model it
came from), rating sessions, raters and their ratings. The recipe files the studio writes stay the portable
format; the store is the history to browse, compare, rate and return to.

Safe under the studio's concurrent requests: WAL journal (readers never wait for the writer), a connection
per thread, ``busy_timeout`` so a writer waits its turn instead of failing, and every write in one
transaction (``BEGIN IMMEDIATE``), so a killed process loses nothing it has committed. The schema carries a
version and is brought up to date by ordered migrations when a store is opened. Only the standard library.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from swerve.errors import ConfigError

DB_NAME = "swerve.db"
BUSY_MS = 30_000
PICTURE_KINDS = ("keep", "sample", "sweep")
SESSION_KINDS = ("scores", "pairwise")

# Ordered migrations: entry i brings the schema from version i to i + 1. Never edit a released entry; add one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE pictures (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('keep', 'sample', 'sweep')),
        name TEXT NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        method TEXT NOT NULL DEFAULT '',
        recipe TEXT,
        thumbnail BLOB,
        measures TEXT NOT NULL DEFAULT '{}',
        missing TEXT NOT NULL DEFAULT '{}',
        provenance TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL,
        deleted REAL
    );
    CREATE INDEX pictures_newest ON pictures (kind, deleted, created DESC, id DESC);
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('scores', 'pairwise')),
        source TEXT NOT NULL,
        seed INTEGER NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE session_items (
        session_id INTEGER NOT NULL REFERENCES sessions (id),
        position INTEGER NOT NULL,
        left_id INTEGER NOT NULL REFERENCES pictures (id),
        right_id INTEGER REFERENCES pictures (id),
        PRIMARY KEY (session_id, position)
    );
    CREATE TABLE raters (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created REAL NOT NULL
    );
    CREATE TABLE ratings (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id),
        rater_id INTEGER NOT NULL REFERENCES raters (id),
        position INTEGER NOT NULL,
        novelty INTEGER CHECK (novelty BETWEEN 1 AND 5),
        value INTEGER CHECK (value BETWEEN 1 AND 5),
        choice INTEGER CHECK (choice IN (0, 1)),
        skipped INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        UNIQUE (session_id, rater_id, position)
    );
    """,
    # 2: the gallery's filters and their choices read an index, not every row (thumbnails live in the rows)
    """
    CREATE INDEX pictures_model ON pictures (kind, deleted, model, created DESC, id DESC);
    CREATE INDEX pictures_method ON pictures (kind, deleted, method, created DESC, id DESC);
    """,
]


def default_path(out_dir: str | Path) -> Path:
    """Where a project folder's store lives: ``<out>/swerve.db``."""
    return Path(out_dir) / DB_NAME


def clean_measures(values: dict[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """Numeric measures kept as they are; every other (None, NaN, text) moved to ``missing`` with why."""
    kept, missing = {}, {}
    for key, value in values.items():
        if isinstance(value, (bool, int)) or isinstance(value, float) and math.isfinite(value):
            kept[key] = float(value)
        elif value is None:
            missing[key] = "not measured"
        elif isinstance(value, float):
            missing[key] = f"came out {value} (not finite)"
        # text such as the class seen is not a score to correlate: left out of the measures on purpose
    return kept, missing


class Store:
    """One project's SQLite store; safe to share between threads (each gets its own connection)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise ConfigError(f"{self.path} is not a file; the store is one SQLite file")
        if not self.path.parent.is_dir():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._refuse_foreign()
        self._migrate()

    # --- connections and transactions ------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (made on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self.path, timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False
                )
                conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.DatabaseError as exc:
                raise ConfigError(f"{self.path} is not a swerve store: {exc}") from None
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            with self._guard:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._guard:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def _refuse_foreign(self) -> None:
        """Refuse, reading only, a file that is not SQLite or is another program's database (switching it
        to WAL or adding tables would change a file that is not ours)."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        try:
            with closing(sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path} is not a swerve store: {exc}") from None
        if tables and "schema_version" not in tables:
            raise ConfigError(f"{self.path} is an SQLite file of something else, not a swerve store")

    def _migrate(self) -> None:
        with self.write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = 0 if row is None else int(row[0])
            if version > len(MIGRATIONS):
                raise ConfigError(
                    f"{self.path} has schema version {version}, newer than this swerve reads "
                    f"({len(MIGRATIONS)}): update swerve"
                )
            for step in MIGRATIONS[version:]:
                for statement in step.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            if row is None:
                conn.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS),))
            else:
                conn.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))

    def version(self) -> int:
        return int(self.connection().execute("SELECT version FROM schema_version").fetchone()[0])

    # --- pictures --------------------------------------------------------------------------------------
    def add_picture(
        self,
        kind: str,
        name: str,
        *,
        model: str = "",
        method: str = "",
        recipe: dict[str, Any] | None = None,
        thumbnail: bytes | None = None,
        measures: dict[str, Any] | None = None,
        missing: dict[str, str] | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> int:
        """Store one picture; answers its id. Non-numeric or non-finite measures go to ``missing``."""
        if kind not in PICTURE_KINDS:
            raise ConfigError(f"picture kind must be one of {', '.join(PICTURE_KINDS)}, got {kind!r}")
        values, why = clean_measures(measures or {})
        why = {**why, **(missing or {})}
        row = (
            kind,
            name,
            model,
            method,
            None if recipe is None else json.dumps(recipe),
            thumbnail,
            json.dumps(values),
            json.dumps(why),
            json.dumps(provenance or {}, default=str),
            time.time(),
        )
        with self.write() as conn:
            cursor = conn.execute(
                "INSERT INTO pictures (kind, name, model, method, recipe, thumbnail, measures, missing,"
                " provenance, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cursor.lastrowid)

    def picture(self, picture_id: int, with_thumbnail: bool = False) -> dict[str, Any]:
        """One picture as a dict (a deleted one too: its ``deleted`` time says so)."""
        row = self.connection().execute("SELECT * FROM pictures WHERE id = ?", (picture_id,)).fetchone()
        if row is None:
            raise ConfigError(f"no picture {picture_id} in {self.path.name}")
        return _picture(row, with_thumbnail)

    def thumbnail(self, picture_id: int) -> bytes | None:
        row = (
            self.connection().execute("SELECT thumbnail FROM pictures WHERE id = ?", (picture_id,)).fetchone()
        )
        if row is None:
            raise ConfigError(f"no picture {picture_id} in {self.path.name}")
        return row[0]

    def gallery(
        self,
        *,
        model: str | None = None,
        method: str | None = None,
        session: int | None = None,
        kind: str | None = "keep",
        page: int = 0,
        per_page: int = 48,
    ) -> dict[str, Any]:
        """Pictures newest first (deleted ones left out), filtered, one page of them, and how many in all."""
        where, args = ["p.deleted IS NULL"], []
        for column, value in (("kind", kind), ("model", model), ("method", method)):
            if value is not None:
                where.append(f"p.{column} = ?")
                args.append(value)
        if session is not None:
            where.append(
                "p.id IN (SELECT left_id FROM session_items WHERE session_id = ?"
                " UNION SELECT right_id FROM session_items WHERE session_id = ?)"
            )
            args += [session, session]
        clause = " AND ".join(where)
        conn = self.connection()
        total = conn.execute(f"SELECT COUNT(*) FROM pictures p WHERE {clause}", args).fetchone()[0]
        rows = conn.execute(
            f"SELECT p.* FROM pictures p WHERE {clause} ORDER BY p.created DESC, p.id DESC LIMIT ? OFFSET ?",
            [*args, per_page, page * per_page],
        ).fetchall()
        return {
            "total": int(total),
            "page": page,
            "per_page": per_page,
            "pictures": [_picture(r) for r in rows],
        }

    def facets(self, kind: str = "keep") -> dict[str, list[str]]:
        """The models and methods among pictures of ``kind`` (for the gallery's filters)."""
        conn = self.connection()
        found = {}
        for column in ("model", "method"):
            rows = conn.execute(
                f"SELECT DISTINCT {column} FROM pictures WHERE kind = ? AND deleted IS NULL ORDER BY 1",
                (kind,),
            ).fetchall()
            found[column] = [r[0] for r in rows]
        return found

    def delete(self, picture_id: int) -> None:
        """Soft delete: the picture leaves the gallery until :meth:`undelete`."""
        self._mark(picture_id, time.time())

    def undelete(self, picture_id: int) -> None:
        self._mark(picture_id, None)

    def _mark(self, picture_id: int, when: float | None) -> None:
        with self.write() as conn:
            cursor = conn.execute("UPDATE pictures SET deleted = ? WHERE id = ?", (when, picture_id))
            if cursor.rowcount == 0:
                raise ConfigError(f"no picture {picture_id} in {self.path.name}")

    # --- raters, sessions, ratings ---------------------------------------------------------------------
    def rater(self, name: str) -> int:
        """The id of the rater called ``name`` (added on first use)."""
        name = name.strip()
        if not name or len(name) > 100:
            raise ConfigError("a rater's name must be 1 to 100 characters")
        known = self.connection().execute("SELECT id FROM raters WHERE name = ?", (name,)).fetchone()
        if known is not None:  # the usual case: no write, so no wait for the writer's lock
            return int(known[0])
        with self.write() as conn:
            conn.execute("INSERT OR IGNORE INTO raters (name, created) VALUES (?, ?)", (name, time.time()))
            return int(conn.execute("SELECT id FROM raters WHERE name = ?", (name,)).fetchone()[0])

    def add_session(
        self, name: str, kind: str, source: str, seed: int, items: list[tuple[int, int | None]]
    ) -> int:
        """A session asking about ``items`` in this order: ``(picture, None)`` to score, ``(left, right)`` to
        compare."""
        if kind not in SESSION_KINDS:
            raise ConfigError(f"a session is one of {', '.join(SESSION_KINDS)}, got {kind!r}")
        if not items:
            raise ConfigError("a rating session needs at least one picture")
        with self.write() as conn:
            if conn.execute("SELECT 1 FROM sessions WHERE name = ?", (name,)).fetchone():
                raise ConfigError(f"there is already a session called {name!r}")
            cursor = conn.execute(
                "INSERT INTO sessions (name, kind, source, seed, created) VALUES (?, ?, ?, ?, ?)",
                (name, kind, source, seed, time.time()),
            )
            session_id = int(cursor.lastrowid)
            conn.executemany(
                "INSERT INTO session_items VALUES (?, ?, ?, ?)",
                [(session_id, i, left, right) for i, (left, right) in enumerate(items)],
            )
            return session_id

    def session(self, ref: int | str) -> dict[str, Any]:
        """A session by id or name, with its number of items."""
        conn = self.connection()
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            row = conn.execute("SELECT * FROM sessions WHERE id = ?", (int(ref),)).fetchone()
        else:
            row = None
        if row is None:
            row = conn.execute("SELECT * FROM sessions WHERE name = ?", (str(ref),)).fetchone()
        if row is None:
            raise ConfigError(f"no rating session {ref!r} in {self.path}")
        count = conn.execute(
            "SELECT COUNT(*) FROM session_items WHERE session_id = ?", (row["id"],)
        ).fetchone()
        return {**dict(row), "items": int(count[0])}

    def sessions(self) -> list[dict[str, Any]]:
        rows = self.connection().execute("SELECT id FROM sessions ORDER BY created DESC, id DESC").fetchall()
        return [self.session(int(r[0])) for r in rows]

    def items(self, session_id: int) -> list[dict[str, Any]]:
        rows = (
            self.connection()
            .execute(
                "SELECT position, left_id, right_id FROM session_items"
                " WHERE session_id = ? ORDER BY position",
                (session_id,),
            )
            .fetchall()
        )
        return [dict(r) for r in rows]

    def item(self, session_id: int, position: int) -> dict[str, Any]:
        row = (
            self.connection()
            .execute(
                "SELECT position, left_id, right_id FROM session_items WHERE session_id = ? AND position = ?",
                (session_id, position),
            )
            .fetchone()
        )
        if row is None:
            raise ConfigError(f"session {session_id} has no item {position}")
        return dict(row)

    def rate(
        self,
        session_id: int,
        rater_id: int,
        position: int,
        *,
        novelty: int | None = None,
        value: int | None = None,
        choice: int | None = None,
        skipped: bool = False,
    ) -> int:
        """Record (or replace) one rater's answer for one item; committed before it returns."""
        session = self.session(session_id)
        if not 0 <= position < session["items"]:
            raise ConfigError(
                f"session {session['name']} has items 0..{session['items'] - 1}, not {position}"
            )
        if not skipped:
            if session["kind"] == "scores" and (novelty is None or value is None):
                raise ConfigError("a scores session needs both novelty and value (1 to 5), or a skip")
            if session["kind"] == "pairwise" and choice is None:
                raise ConfigError("a pairwise session needs a choice: 0 (left) or 1 (right), or a skip")
        for label, score in (("novelty", novelty), ("value", value)):
            if score is not None and (isinstance(score, bool) or score not in range(1, 6)):
                raise ConfigError(f"{label} must be an integer from 1 to 5, got {score!r}")
        if choice is not None and choice not in (0, 1):
            raise ConfigError(f"choice must be 0 (left) or 1 (right), got {choice!r}")
        with self.write() as conn:
            conn.execute(
                "INSERT INTO ratings"
                " (session_id, rater_id, position, novelty, value, choice, skipped, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, rater_id, position) DO UPDATE SET"
                " novelty = excluded.novelty, value = excluded.value, choice = excluded.choice,"
                " skipped = excluded.skipped, created = excluded.created",
                (session_id, rater_id, position, novelty, value, choice, int(skipped), time.time()),
            )
            row = conn.execute(
                "SELECT id FROM ratings WHERE session_id = ? AND rater_id = ? AND position = ?",
                (session_id, rater_id, position),
            ).fetchone()
            return int(row[0])

    def ratings(self, session_id: int) -> list[dict[str, Any]]:
        rows = (
            self.connection()
            .execute(
                "SELECT r.*, raters.name AS rater FROM ratings r JOIN raters ON raters.id = r.rater_id"
                " WHERE r.session_id = ? ORDER BY r.position, raters.name",
                (session_id,),
            )
            .fetchall()
        )
        return [dict(r) for r in rows]

    def progress(self, session_id: int, rater_id: int) -> dict[str, Any]:
        """How far a rater is: answered and skipped counts, and the first item they have not answered."""
        conn = self.connection()
        total = self.session(session_id)["items"]
        done = conn.execute(
            "SELECT position, skipped FROM ratings WHERE session_id = ? AND rater_id = ?",
            (session_id, rater_id),
        ).fetchall()
        answered = {int(r[0]) for r in done}
        following = next((i for i in range(total) if i not in answered), None)
        skipped = sum(int(r[1]) for r in done)
        return {"total": total, "rated": len(answered) - skipped, "skipped": skipped, "next": following}


def _picture(row: sqlite3.Row, with_thumbnail: bool = False) -> dict[str, Any]:
    found = {k: row[k] for k in row.keys() if k != "thumbnail"}  # noqa: SIM118 (sqlite3.Row)
    for key in ("measures", "missing", "provenance"):
        found[key] = json.loads(found[key])
    found["recipe"] = None if found["recipe"] is None else json.loads(found["recipe"])
    found["has_thumbnail"] = row["thumbnail"] is not None
    if with_thumbnail:
        found["thumbnail"] = row["thumbnail"]
    return found


def recipe_differences(a: Any, b: Any, path: str = "") -> list[dict[str, Any]]:
    """Where two recipes (parsed JSON) differ, as ``{"path", "a", "b"}``; a long number list (a latent) is
    one entry saying how many coordinates differ and by at most how much."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b), key=str):
            found += recipe_differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return found
    numbers = (int, float)
    if (
        isinstance(a, list)
        and isinstance(b, list)
        and len(a) == len(b) > 8
        and all(isinstance(v, numbers) for v in a + b)
    ):
        gaps = [abs(x - y) for x, y in zip(a, b, strict=True) if x != y]
        if not gaps:
            return []
        return [
            {"path": path, "a": f"{len(a)} numbers", "b": f"{len(gaps)} differ, by at most {max(gaps):.4g}"}
        ]
    if a == b:
        return []
    return [{"path": path or "recipe", "a": a, "b": b}]
