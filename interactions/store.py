"""The results store: an embedded SQLite database keyed by a hash of each run's full configuration.

A run's scores and its status row are written in one transaction, so a run killed half-way (even with
kill -9) leaves nothing behind and is simply trained again, while every finished run survives.
"""

from __future__ import annotations

import hashlib
import json
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
"""


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
        with self._connection() as db:
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            if "meta" not in columns:  # a store written before run metadata was kept
                db.execute("ALTER TABLE runs ADD COLUMN meta TEXT")

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection whose SQLite errors name this store's file and say what to do."""
        try:
            db = sqlite3.connect(self.path, timeout=60)
        except sqlite3.Error as error:
            raise StoreError(f"results store {self.path}: cannot open it ({error})") from None
        try:
            with db:  # one transaction: all or nothing
                db.execute("PRAGMA journal_mode=WAL")
                yield db
        except sqlite3.Error as error:
            hint = (
                "its folder or file is read-only: pass a writable --store"
                if "readonly" in str(error) or "read-only" in str(error)
                else "it is not a readable results store (corrupted or truncated?): move it away or pass "
                "another --store"
            )
            raise StoreError(f"results store {self.path}: {error}; {hint}") from None
        finally:
            db.close()

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
