"""Three JSON views: create a lead on a ladder, its next step, and an ask (409 if refused)."""

import json

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

import commitladder as cl
from commitladder.contrib.django import tracker

from .models import Lead


@csrf_exempt
@require_POST
def create_lead(request: HttpRequest) -> JsonResponse:
    data = json.loads(request.body)
    with transaction.atomic():  # the lead and its enrollment: both or neither
        lead = Lead.objects.create(name=data["name"], email=data["email"])
        lead.enroll(data.get("ladder", "solopreneur"), actor=str(request.user))
    return JsonResponse({"id": lead.pk, "prospect": lead.prospect_id}, status=201)


@require_GET
def next_step(request: HttpRequest, pk: int) -> JsonResponse:
    lead = get_object_or_404(Lead, pk=pk)
    e = lead.enrollment(request.GET.get("ladder"))
    askable = e.askable()
    why_not = {
        rung: refusal.to_dict()
        for rung in e.ladder.rungs
        if rung not in askable and (refusal := e.why_not(rung)) is not None
    }
    pending = e.pending.to_dict() if e.pending else None
    return JsonResponse(
        {
            "status": e.status,
            "position": e.position,
            "open_ask": pending,
            "askable": askable,
            "why_not": why_not,
        }
    )


@csrf_exempt
@require_POST
def ask(request: HttpRequest, pk: int) -> JsonResponse:
    lead = get_object_or_404(Lead, pk=pk)
    data = json.loads(request.body)
    try:
        made = tracker().ask(
            lead.prospect_id,
            data["rung"],
            ladder=data.get("ladder"),
            channel=data.get("channel"),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
    except cl.Refused as refusal:
        return JsonResponse(refusal.to_dict(), status=409)
    return JsonResponse(made.to_dict(), status=201)
