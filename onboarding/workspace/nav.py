"""The tabs of one onboarding in the workspace, in the order of the six steps.

A tab whose URL name is not registered is left out, so areas can land one at a time.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

TABS = (
    ("overview", "Overview", "workspace:onboarding"),
    ("handoff", "1 Handoff", "workspace:handoff"),
    ("kickoff", "2 Kickoff", "workspace:kickoff"),
    ("requirements", "3 Requirements", "workspace:requirements"),
    ("plan", "4 Plan", "workspace:plan"),
    ("training", "5 Training", "workspace:training"),
    ("close", "6 Close", "workspace:close"),
    ("stakeholders", "Stakeholders", "workspace:stakeholders"),
    ("activity", "Activity", "workspace:activity"),
)


def onboarding_tabs(onboarding_id: int, current: str) -> list[dict]:
    tabs = []
    for key, label, name in TABS:
        try:
            url = reverse(name, kwargs={"onboarding_id": onboarding_id})
        except NoReverseMatch:
            continue
        tabs.append({"key": key, "label": label, "url": url, "current": key == current})
    return tabs
