"""The host's own admin site, as a CRM has: the ladder pages registered on it too."""

from __future__ import annotations

from django.contrib import admin

from commitladder.contrib.django.admin import LadderColumn, register

from .models import Contact

crm_site = admin.AdminSite(name="crm")


class ContactAdmin(LadderColumn, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "email", "ladders")
    readonly_fields = ("ladders",)


crm_site.register(Contact, ContactAdmin)
register(crm_site)
