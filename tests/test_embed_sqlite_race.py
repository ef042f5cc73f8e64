"""The SQLite snippet of ``docs/how-to/embed-in-web-service.md`` survives concurrent requests
(issue 12, item 3): ``SqlStore("sqlite:///...")`` is safe for threads by itself.

The snippet is read from the page, so the test checks the code users copy. Its app
then takes 40 requests at once: two asks racing for each of 20 contacts. Each
contact gets one ask (201) and one refusal (409); no request fails otherwise (before
the fix, a few ended in an unhandled ``ConflictError`` after 20 lost races).
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")
pytest.importorskip("sqlalchemy")

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "how-to" / "embed-in-web-service.md"
CONTACTS = 20


def sqlite_snippet() -> str:
    """The page's first Python block: the one-request-one-transaction app on SQLite."""
    blocks = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.S | re.M)
    snippet = blocks[0]
    assert 'SqlStore(f"sqlite:///' in snippet, "the page's first block is no longer the SQLite app"
    return str(snippet)


def run_snippet() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "embed_snippet"}
    cwd = Path.cwd()
    os.chdir(ROOT)  # the snippet loads examples/ladders/... relative to the repository
    try:
        exec(compile(sqlite_snippet(), str(PAGE), "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace


def test_the_sqlite_snippet_survives_forty_concurrent_requests() -> None:
    app = run_snippet()["app"]
    setup = app.test_client()
    for i in range(CONTACTS):
        created = setup.post("/contacts", json={"id": f"c{i}", "email": f"c{i}@example.com"})
        assert created.status_code == 201
    rungs = ["admit_problem", "admit_problem"]
    requests = [(f"c{i}", rung) for i in range(CONTACTS) for rung in rungs]
    start = threading.Barrier(len(requests))
    answers: list[tuple[str, int, str]] = []
    escaped: list[BaseException] = []
    lock = threading.Lock()

    def request(contact: str, rung: str) -> None:
        client = app.test_client()
        start.wait()
        try:
            response = client.post(
                f"/contacts/{contact}/asks", json={"rung": rung, "channel": "email"}
            )
        except BaseException as exc:  # an error the app did not turn into a response
            with lock:
                escaped.append(exc)
            return
        code = (response.get_json(silent=True) or {}).get("code", "")
        with lock:
            answers.append((contact, response.status_code, code))

    threads = [threading.Thread(target=request, args=r) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert escaped == []
    assert sorted(status for _, status, _ in answers) == [201] * CONTACTS + [409] * CONTACTS
    assert {code for _, status, code in answers if status == 409} == {"ask_pending"}
    per_contact = Counter(contact for contact, status, _ in answers if status == 201)
    assert per_contact == Counter({f"c{i}": 1 for i in range(CONTACTS)})
