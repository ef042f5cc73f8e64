"""``manage.py commitladder_worker``: run due timers and relay the outbox.

Run it from cron (once) or as a long-lived process (``--every SECONDS``). Several may
run at once on PostgreSQL: timers and messages are leased, never taken twice.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commitladder.contrib.django.runtime import tracker


def _instant(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError("give a timezone, e.g. 2026-01-10T09:00:00+00:00")
    return at


class Command(BaseCommand):
    help = "Run the ladders' due timers and send the outbox's due messages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timers-only", action="store_true", help="do not relay")
        parser.add_argument("--relay-only", action="store_true", help="do not run timers")
        parser.add_argument("--limit", type=int, default=100, help="rows per pass (100)")
        parser.add_argument("--now", type=_instant, help="act as of this ISO 8601 time")
        parser.add_argument(
            "--every", type=float, help="repeat every SECONDS until interrupted (default: once)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["timers_only"] and options["relay_only"]:
            raise CommandError("--timers-only and --relay-only exclude each other")
        while True:
            self._pass(options)
            if options["every"] is None:
                return
            time.sleep(options["every"])

    def _pass(self, options: dict[str, Any]) -> None:
        t = tracker()
        now, limit = options["now"], options["limit"]
        if not options["relay_only"]:
            fired = t.run_due(now, limit=limit)
            self.stdout.write(f"timers: {fired} fired")
        if not options["timers_only"] and t.messenger is not None:
            report = t.relay(limit=limit, now=now)
            self.stdout.write(
                f"relay: {report.sent} sent, {report.retrying} retrying, {report.dead} dead"
            )
