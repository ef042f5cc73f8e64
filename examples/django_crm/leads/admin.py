from django.contrib import admin

from commitladder.contrib.django.admin import LadderColumn

from .models import Lead


@admin.register(Lead)
class LeadAdmin(LadderColumn, admin.ModelAdmin):
    list_display = ("name", "email", "ladders")
    readonly_fields = ("ladders",)
