"""The project store: schema versions, soft delete, and safety under threads and a killed process."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from swerve.errors import ConfigError
from swerve.look.store import MIGRATIONS, Store, recipe_differences

WORKER = """
import sys
from swerve.look.store import Store
store = Store(sys.argv[1])
rater = store.rater("ana")
session = store.session("s")["id"]
for position in range(store.session("s")["items"]):
    store.rate(session, rater, position, novelty=1 + position % 5, value=5 - position % 5)
    print(position, flush=True)
"""


def test_a_new_store_is_at_the_latest_schema_in_wal_mode(tmp_path: Path):
    store = Store(tmp_path / "swerve.db")
    assert store.version() == len(MIGRATIONS)
    assert store.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.connection().execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    store.close()
    assert Store(tmp_path / "swerve.db").version() == len(MIGRATIONS)  # reopening migrates nothing twice


def test_a_store_made_at_an_older_schema_is_migrated_in_order(tmp_path: Path):
    with sqlite3.connect(tmp_path / "swerve.db") as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.execute("INSERT INTO pictures (kind, name, created) VALUES ('keep', 'old', 1.0)")
    store = Store(tmp_path / "swerve.db")
    assert store.version() == len(MIGRATIONS) > 1
    indexes = {
        r[0] for r in store.connection().execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    }
    assert {"pictures_model", "pictures_method"} <= indexes
    assert [p["name"] for p in store.gallery()["pictures"]] == ["old"]  # what was there is kept


def test_a_store_from_a_newer_swerve_is_refused(tmp_path: Path):
    Store(tmp_path / "swerve.db").close()
    with sqlite3.connect(tmp_path / "swerve.db") as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(ConfigError, match="newer"):
        Store(tmp_path / "swerve.db")


def test_a_file_that_is_not_sqlite_is_one_clear_error(tmp_path: Path):
    (tmp_path / "swerve.db").write_text("not a database, just words " * 40)
    with pytest.raises(ConfigError, match="not a swerve store"):
        Store(tmp_path / "swerve.db")


def test_another_programs_sqlite_file_is_refused_and_left_as_it_was(tmp_path: Path):
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    before = (tmp_path / "other.db").read_bytes()
    with pytest.raises(ConfigError, match="something else"):
        Store(tmp_path / "other.db")
    assert (tmp_path / "other.db").read_bytes() == before


def test_pictures_list_newest_first_filter_and_soft_delete_with_undo(tmp_path: Path):
    store = Store(tmp_path / "swerve.db")
    ids = [store.add_picture("keep", f"keep-{i}", model="m" + str(i % 2), method="bend") for i in range(5)]
    listing = store.gallery()
    assert [p["id"] for p in listing["pictures"]] == ids[::-1] and listing["total"] == 5
    assert [p["id"] for p in store.gallery(model="m1")["pictures"]] == [ids[3], ids[1]]
    assert [p["id"] for p in store.gallery(per_page=2, page=1)["pictures"]] == [ids[2], ids[1]]
    store.delete(ids[2])
    assert ids[2] not in [p["id"] for p in store.gallery()["pictures"]]
    store.undelete(ids[2])
    assert ids[2] in [p["id"] for p in store.gallery()["pictures"]]
    with pytest.raises(ConfigError, match="no picture"):
        store.delete(999)


def test_measures_that_are_not_numbers_are_kept_as_missing_with_the_reason(tmp_path: Path):
    store = Store(tmp_path / "swerve.db")
    pid = store.add_picture("keep", "k", measures={"novelty": 1.5, "critic": float("nan"), "scan": None})
    picture = store.picture(pid)
    assert picture["measures"] == {"novelty": 1.5}
    assert "not finite" in picture["missing"]["critic"] and picture["missing"]["scan"] == "not measured"


def test_recipe_differences_name_the_fields_and_summarise_latents():
    a = {"bundle": "x", "z": [0.0] * 16, "bends": [{"factor": 1}]}
    b = {"bundle": "x", "z": [0.0] * 15 + [0.5], "bends": [{"factor": 2}]}
    found = {d["path"]: d for d in recipe_differences(a, b)}
    assert set(found) == {"z", "bends"} and "1 differ" in found["z"]["b"]


def test_twenty_threads_keeping_and_rating_lose_and_duplicate_nothing(tmp_path: Path):
    store = Store(tmp_path / "swerve.db")
    base = [store.add_picture("sample", f"s{i}") for i in range(20)]
    session = store.add_session("s", "scores", "test", 0, [(p, None) for p in base])
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            store.add_picture("keep", f"keep-{i}")
            rater = store.rater(f"rater-{i % 4}")
            store.rate(session, rater, i, novelty=1 + i % 5, value=3)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    names = [p["name"] for p in store.gallery(per_page=100)["pictures"]]
    assert sorted(names) == sorted(f"keep-{i}" for i in range(20))
    ratings = store.ratings(session)
    assert sorted(r["position"] for r in ratings) == list(range(20))
    assert len({r["rater"] for r in ratings}) == 4


def test_a_killed_process_loses_no_committed_rating(tmp_path: Path):
    db = tmp_path / "swerve.db"
    store = Store(db)
    pictures = [store.add_picture("sample", f"s{i}") for i in range(5000)]
    session = store.add_session("s", "scores", "test", 0, [(p, None) for p in pictures])
    store.close()
    child = subprocess.Popen([sys.executable, "-c", WORKER, str(db)], stdout=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + 60
    while len(seen) < 30 and time.monotonic() < deadline:
        seen.append(int(child.stdout.readline()))
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL and len(seen) == 30
    reopened = Store(db)
    positions = {r["position"] for r in reopened.ratings(session)}
    assert set(seen) <= positions  # every rating the worker saw committed is there
    assert len(positions) < 5000  # it was killed mid-session
    progress = reopened.progress(session, reopened.rater("ana"))
    assert progress["next"] == len(positions) and progress["rated"] == len(positions)
