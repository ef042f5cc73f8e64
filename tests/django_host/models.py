"""The host model of the in-process Django tests: a contact that climbs ladders."""

from __future__ import annotations

from django.db import models

from commitladder.contrib.django.models import LadderProspect


class Contact(LadderProspect):
    name = models.CharField(max_length=200)
    email = models.EmailField()

    def __str__(self) -> str:
        return self.name
