"""Admin pages: enrollments with their position, open ask and history; the outbox.

Read-only: a ladder moves only through the tracker's commands, never by editing rows.
The pages are on ``admin.site`` (Django's autodiscovery imports this module); a
project with its own ``AdminSite`` calls ``register(site)``. Staff who are not
superusers need the view permissions ``commitladder.view_ladderenrollment`` and
``commitladder.view_outboxmessage``. ``LadderColumn`` adds the ladders of a row to the
changelist of a host model that uses ``LadderProspect``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db import models
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .models import LadderEnrollment, LadderProspect, OutboxMessage, prospect_of

__all__ = ["EnrollmentAdmin", "LadderColumn", "OutboxAdmin", "register"]


def _change_url(site: admin.AdminSite, obj: models.Model) -> str | None:
    """The change page of ``obj`` on ``site``, or ``None`` when the site has none."""
    if not site.is_registered(type(obj)):
        return None
    meta = obj._meta  # noqa: SLF001 (Django's public model API)
    try:
        # quoted as the admin quotes ids: an enrollment id holds "/" and may hold "_"
        name = f"{site.name}:{meta.app_label}_{meta.model_name}_change"
        return reverse(name, args=[quote(obj.pk)])
    except NoReverseMatch:
        return None


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EnrollmentAdmin(ReadOnly):
    """The enrollments: prospect (linked to its row), ladder, status, position, open ask;
    each one's history on its page."""

    list_display = ("id", "prospect_link", "ladder", "status", "position", "open_ask", "updated_at")
    list_filter = ("ladder", "status")
    search_fields = ("prospect", "id")
    fields = ("id", "prospect_link", "ladder", "status", "position", "open_ask", "history")
    readonly_fields = fields

    @admin.display(description="prospect", ordering="prospect")
    def prospect_link(self, obj: LadderEnrollment) -> str:
        """The host row (linked where this site has its page), else the prospect id."""
        row = prospect_of(obj.prospect)
        if row is None:
            return obj.prospect
        url = _change_url(self.admin_site, row)
        if url is None:
            return str(row)
        return format_html('<a href="{}">{}</a>', url, str(row))

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


class OutboxAdmin(ReadOnly):
    """The outbox: each message's status, attempts and last error (dead letters too)."""

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


class LadderColumn:
    """Mix into the ``ModelAdmin`` of a ``LadderProspect`` model, and name ``"ladders"``
    in ``list_display`` (or ``readonly_fields``): each of the row's enrollments as
    ``ladder: status (position)``, linked to its page on the same admin site.

        class LeadAdmin(LadderColumn, admin.ModelAdmin):
            list_display = ("name", "email", "ladders")
    """

    admin_site: admin.AdminSite

    @admin.display(description="ladders")
    def ladders(self, obj: LadderProspect) -> SafeString:
        parts = []
        for e in obj.enrollments.order_by("ladder"):
            label = f"{e.ladder}: {e.status}" + (f" ({e.position})" if e.position else "")
            url = _change_url(self.admin_site, e)
            parts.append(format_html('<a href="{}">{}</a>', url, label) if url else label)
        return format_html_join(", ", "{}", ((part,) for part in parts))


def register(site: admin.AdminSite) -> None:
    """Put the enrollment and outbox pages on ``site`` (an ``AdminSite`` of yours)."""
    site.register(LadderEnrollment, EnrollmentAdmin)
    site.register(OutboxMessage, OutboxAdmin)


register(admin.site)
