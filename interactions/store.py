"""The results store: an embedded SQLite database keyed by a hash of each run's full configuration.

A run's scores and its status row are written in one transaction, so a run killed half-way (even with
kill -9) leaves nothing behind and is simply trained again, while every finished run survives.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    objective TEXT NOT NULL,
    generator TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,          -- 'done' or 'failed'
    reason TEXT,                   -- why a run failed
    seconds REAL,                  -- training wall time, the learning-dynamics probes included
    finished REAL,
    config TEXT NOT NULL,          -- the full configuration, JSON
    meta TEXT                      -- where and how it ran (not part of the key), JSON
);
CREATE TABLE IF NOT EXISTS scores (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    task TEXT NOT NULL,
    probe TEXT NOT NULL,           -- 'linear', 'mlp', or 'pid'
    metric TEXT NOT NULL,
    epoch INTEGER,                 -- NULL for the final scores, else the checkpoint's epoch
    value REAL
);
CREATE INDEX IF NOT EXISTS scores_run ON scores(run_id);
CREATE TABLE IF NOT EXISTS info (  -- what the store holds as a whole, e.g. the scale of its runs
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL            -- JSON
);
"""
BUSY_SECONDS = 60.0  # how long to wait for another process that holds the store locked


class StoreError(ValueError):
    """The results store file cannot be used (a directory, unreadable, not SQLite, read-only)."""


def run_id(config: dict) -> str:
    """Hash of the canonical JSON of a run's full configuration."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:20]


class ResultsStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(
                f"results store {self.path} is a directory: give a file, e.g. {self.path / 'results.sqlite'}"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"results store {self.path}: cannot create its folder ({error})") from None
        # Another process may be creating the same store this instant: switching to WAL takes a lock that
        # SQLite's busy timeout does not wait for, so wait here instead.
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                with self._connection(translate=False) as db:
                    db.execute("PRAGMA journal_mode=WAL")  # kept in the file: set once, here
                    db.executescript(SCHEMA)
                    columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
                    if "meta" not in columns:  # a store written before run metadata was kept
                        db.execute("ALTER TABLE runs ADD COLUMN meta TEXT")
                break
            except sqlite3.Error as error:
                if not _is_busy(error) or time.monotonic() > deadline:
                    raise self._error(error) from None
                time.sleep(0.02 + 0.08 * random.random())

    @contextmanager
    def _connection(self, translate: bool = True) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction (all or nothing) whose SQLite errors name this store's file and
        say what to do (`translate`)."""
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_SECONDS)
        except sqlite3.Error as error:
            raise StoreError(f"results store {self.path}: cannot open it ({error})") from None
        try:
            with db:
                yield db
        except sqlite3.Error as error:
            if not translate:
                raise
            raise self._error(error) from None
        finally:
            db.close()

    def _error(self, error: sqlite3.Error) -> StoreError:
        """What went wrong and what to do, calling the store damaged only when SQLite found it so."""
        text = str(error)
        if "readonly" in text or "read-only" in text:
            hint = "its folder or file is read-only: pass a writable --store"
        elif _is_busy(error):
            hint = (
                f"another process has held it locked for over {BUSY_SECONDS:.0f} s: let that grid finish, "
                "or pass another --store"
            )
        elif "full" in text or ("disk I/O" in text and _free_bytes(self.path) < 2**20):
            hint = (
                f"the disk holding it is full ({_free_bytes(self.path)} bytes free): free some space and run "
                "the same command again (what the store holds is kept)"
            )
        elif "not a database" in text or "malformed" in text:
            hint = "it is not a readable results store (not SQLite, or damaged): pass another --store"
        else:
            hint = "pass another --store if this persists"
        return StoreError(f"results store {self.path}: {text}; {hint}")

    def scale(self) -> dict | None:
        """The scale this store's runs were made at (`claim_scale`), or None if none was recorded."""
        with self._connection() as db:
            row = db.execute("SELECT value FROM info WHERE key = 'scale'").fetchone()
        return None if row is None else json.loads(row[0])

    def claim_scale(self, scale: dict) -> dict:
        """Record `scale` as the store's unless it has one already; return the store's (in one
        transaction, so that of two grids starting together only one sets it)."""
        with self._connection() as db:
            db.execute("INSERT OR IGNORE INTO info VALUES ('scale', ?)", (json.dumps(scale, sort_keys=True),))
            return json.loads(db.execute("SELECT value FROM info WHERE key = 'scale'").fetchone()[0])

    def run(self, key: str) -> dict | None:
        """Run `key`'s row (status, reason, seconds, finished, meta JSON ...), or None if not stored."""
        with self._connection() as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (key,)).fetchone()
        return None if row is None else dict(row)

    def record(
        self,
        key: str,
        config: dict,
        rows: Iterable[tuple[str, str, str, int | None, float]],
        *,
        status: str = "done",
        reason: str | None = None,
        seconds: float | None = None,
        meta: dict | None = None,
    ) -> None:
        """Replace run `key` and its scores, atomically: rows are (task, probe, metric, epoch, value);
        `meta` says where and how it ran (host, versions, thread counts, backend, commit)."""
        with self._connection() as db:
            db.execute("DELETE FROM scores WHERE run_id = ?", (key,))
            db.execute("DELETE FROM runs WHERE run_id = ?", (key,))
            db.execute(
                "INSERT INTO runs (run_id, objective, generator, seed, status, reason, seconds, finished,"
                " config, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    config["objective"]["arm"],
                    config["generator"]["preset"],
                    config["seed"],
                    status,
                    reason,
                    seconds,
                    time.time(),
                    json.dumps(config, sort_keys=True),
                    None if meta is None else json.dumps(meta, sort_keys=True),
                ),
            )
            db.executemany("INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?)", [(key, *row) for row in rows])

    def runs(self) -> pd.DataFrame:
        with self._connection() as db:
            return pd.read_sql_query("SELECT * FROM runs", db)

    def latest_runs(self, version: int | None = None) -> pd.DataFrame:
        """The runs `scores(version)` reads: the latest finished run of each (objective, generator, seed)."""
        with self._connection() as db:
            return pd.read_sql_query(f"{self._latest(version)} SELECT * FROM runs WHERE run_id IN latest", db,
                                     params={"version": version})  # fmt: skip

    def scores(self, version: int | None = None) -> pd.DataFrame:
        """Scores of the latest finished run of each (objective, generator, seed), with those columns.

        With `version`, only runs scored by that scoring version count (older ones stay in the store, unused).
        """
        query = f"""{self._latest(version)}
            SELECT r.objective, r.generator, r.seed, s.task, s.probe, s.metric, s.epoch, s.value
            FROM scores s JOIN runs r USING (run_id) WHERE run_id IN (SELECT run_id FROM latest)"""
        with self._connection() as db:
            return pd.read_sql_query(query, db, params={"version": version})

    def run_scores(self, keys: Iterable[str]) -> pd.DataFrame:
        """Scores of the runs `keys` (whatever their objective, generator and seed: several runs of one
        triple differ by a knob in an interaction map), with the run id."""
        with self._connection() as db:
            db.execute("CREATE TEMP TABLE wanted (run_id TEXT PRIMARY KEY)")
            db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(key,) for key in keys])
            return pd.read_sql_query("SELECT s.* FROM scores s JOIN wanted USING (run_id)", db)

    @staticmethod
    def _latest(version: int | None) -> str:
        """A WITH clause naming `latest`: the run ids that count, at scoring version :version if given."""
        current = "" if version is None else "AND json_extract(config, '$.scoring.version') = :version"
        return f"""
            WITH eligible AS (SELECT * FROM runs WHERE status = 'done' {current}),
            latest AS (
                SELECT run_id FROM eligible e WHERE finished = (
                    SELECT MAX(finished) FROM eligible o
                    WHERE o.objective = e.objective AND o.generator = e.generator AND o.seed = e.seed))"""


def _is_busy(error: sqlite3.Error) -> bool:
    return "locked" in str(error) or "busy" in str(error)


def _free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path.parent).free
    except OSError:
        return 0
