"""Admin pages: enrollments with their position, open ask and history; the outbox.

Read-only: a ladder moves only through the tracker's commands, never by editing rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .models import LadderEnrollment, OutboxMessage


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LadderEnrollment)
class EnrollmentAdmin(ReadOnly):
    list_display = ("id", "prospect", "ladder", "status", "position", "open_ask", "updated_at")
    list_filter = ("ladder", "status")
    search_fields = ("prospect", "id")
    fields = ("id", "prospect", "ladder", "status", "position", "open_ask", "history")
    readonly_fields = fields

    @admin.display(description="position")
    def position(self, obj: LadderEnrollment) -> str:
        return obj.position or "-"

    @admin.display(description="open ask")
    def open_ask(self, obj: LadderEnrollment) -> str:
        ask = obj.open_ask
        if ask is None:
            return "-"
        expires = f", expires {ask['expires_at'][:16]}" if ask.get("expires_at") else ""
        return f"{ask['rung']} by {ask['channel']} (asked {ask['asked_at'][:16]}{expires})"

    @admin.display(description="history")
    def history(self, obj: LadderEnrollment) -> SafeString:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    e.seq,
                    e.at.strftime("%Y-%m-%d %H:%M"),
                    e.type,
                    _details(e.to_dict()["data"]),
                    e.actor or "",
                )
                for e in obj.history()
            ),
        )
        return format_html(
            "<table><thead><tr><th>#</th><th>at</th><th>event</th><th>details</th>"
            "<th>by</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )


def _details(data: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in data.items() if v not in (None, {}, [], ""))


@admin.register(OutboxMessage)
class OutboxAdmin(ReadOnly):
    list_display = ("key", "kind", "status", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("key", "enrollment_id")
    readonly_fields = (
        "key",
        "enrollment_id",
        "kind",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
        "body",
    )
