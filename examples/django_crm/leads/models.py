from django.db import models

from commitladder.contrib.django.models import LadderProspect


class Lead(LadderProspect):
    """A lead of the CRM; ``LadderProspect`` puts it on ladders (``lead.enroll(...)``)."""

    name = models.CharField(max_length=200)
    email = models.EmailField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"
