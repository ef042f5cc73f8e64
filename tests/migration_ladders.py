"""Two versions of one ladder for the migration tests: v2 renames ``intro`` to ``hello``
(email only), removes ``trial`` into ``proposal`` and ``pilot`` into the end ``lost``,
and renames the end ``dq`` to ``disqualified``."""

from __future__ import annotations

import commitladder as cl

V1 = """
ladder: deal
version: 1
start: intro
defaults: {expires_after: 5d, channels: [email, phone]}
rungs:
  intro: {kind: call, size: 1, next: demo}
  demo: {kind: meeting, size: 2, next: [trial, pilot]}
  trial: {kind: trial, size: 3, next: proposal}
  pilot: {kind: trial, size: 3, next: proposal}
  proposal: {kind: proposal, size: 4, next: won}
ends:
  won: {result: won}
  lost: {result: lost}
  dq: {result: lost}
"""

V2 = """
ladder: deal
version: 2
start: hello
defaults: {expires_after: 5d, channels: [email, phone]}
migrations:
  - from_version: 1
    renamed: {intro: hello}
    removed: {trial: proposal, pilot: lost}
    ends: {dq: disqualified}
rungs:
  hello: {kind: call, size: 1, next: demo, channels: [email]}
  demo: {kind: meeting, size: 2, next: proposal}
  proposal: {kind: proposal, size: 4, next: won}
ends:
  won: {result: won}
  lost: {result: lost}
  disqualified: {result: lost}
"""


def v1() -> cl.Ladder:
    return cl.Ladder.from_yaml(V1, source="deal_v1.yaml")


def v2() -> cl.Ladder:
    return cl.Ladder.from_yaml(V2, source="deal_v2.yaml")
