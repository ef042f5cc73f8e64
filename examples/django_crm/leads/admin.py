from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html_join

from .models import Lead


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "ladders")
    readonly_fields = ("ladders",)

    @admin.display(description="ladders")
    def ladders(self, lead: Lead) -> str:
        return format_html_join(
            ", ",
            '<a href="{}">{}: {}</a>',
            (
                (
                    reverse("admin:commitladder_ladderenrollment_change", args=[e.pk]),
                    e.ladder,
                    e.status,
                )
                for e in lead.enrollments
            ),
        )
