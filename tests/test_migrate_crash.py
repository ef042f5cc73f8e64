"""A migration killed at random points (SIGKILL) and run again moves every enrollment
exactly once: each enrollment moves in its own transaction, and a rerun skips those on the
new version already. Runs on SQLite, PostgreSQL and MariaDB/MySQL (skipping without them).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import commitladder as cl
from migration_ladders import v1, v2
from support import report

pytest_plugins = ["dbfixtures"]
sa = pytest.importorskip("sqlalchemy")

from commitladder.sql import SqlStore  # noqa: E402  (after the skip: needs SQLAlchemy)

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
#: kill trials per database: 30 in the thorough run CI makes (``make test-thorough``, which
#: picks this test by its ``property`` mark), 10 in the quick ``make test``
TRIALS = {"quick": 10, "thorough": 30}
PROSPECTS = 40
TESTS = Path(__file__).resolve().parent

CHILD = """
import sys
sys.path.insert(0, sys.argv[3])
import commitladder as cl
from commitladder.sql import SqlStore
from migration_ladders import v2

store = SqlStore(sys.argv[1], prefix=sys.argv[2])
tracker = cl.Tracker(store=store, ladders=[v2()])
print("start", flush=True)
tracker.migrate("deal", dry_run=False, batch=4, progress=lambda n: print("page", flush=True))
print("done", flush=True)
"""


def populate(store: SqlStore) -> None:
    tracker = cl.Tracker(store=store, ladders=[v1()])
    for n in range(PROSPECTS):
        p = f"p{n}"
        tracker.enroll(p, ladder="deal", now=T0)
        if n % 2:
            tracker.ask(p, "intro", channel="email", now=T0)
        if n % 4 == 1:
            tracker.commit(p, now=T0 + timedelta(hours=1))


@pytest.mark.property
def test_a_killed_migration_run_again_moves_every_enrollment_exactly_once(
    db: str, request: pytest.FixtureRequest, hypothesis_profile: str
) -> None:
    from dbfixtures import clear, fresh_prefix

    trials = TRIALS.get(hypothesis_profile, TRIALS["thorough"])
    rng = random.Random(14)
    killed = finished = partly = 0
    prefix = fresh_prefix()  # one prefix: tables() keeps a bounded cache of them
    store = SqlStore(db, prefix=prefix)
    store.create_schema()
    try:
        for _ in range(trials):
            clear(store)
            populate(store)
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, db, prefix, str(TESTS)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "start"
            pages = rng.randrange(PROSPECTS // 4 + 1)
            for _ in range(pages):
                if not child.stdout.readline():
                    break
            time.sleep(rng.uniform(0, 0.004))
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
                killed += 1
            else:
                finished += 1
            child.wait()
            child.stdout.close()
            # run again, to the end
            tracker = cl.Tracker(store=store, ladders=[v2()])
            again = tracker.migrate("deal", dry_run=False, batch=7)
            assert again.blocked == ()
            assert again.migrated + again.current == PROSPECTS
            partly += 0 < again.current < PROSPECTS  # the kill left it half-way
            for n in range(PROSPECTS):
                history = tracker.history(f"p{n}")
                assert [e.type for e in history].count("Migrated") == 1, f"p{n}: {history}"
                assert tracker.get(f"p{n}").version == 2
    finally:
        store.drop_schema()
        store.close()
    assert killed + finished == trials
    report(
        request,
        f"migration crash test on {sa.make_url(db).get_backend_name()}",
        {
            "trials": trials,
            "killed": killed,
            "killed half-way": partly,
            "ran to the end": finished,
        },
    )
