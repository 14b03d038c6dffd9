"""Steps 1-3 of an onboarding: handoff (with stakeholders and the phase gate), kickoff,
requirements. Kwargs: onboarding_id (Onboarding), contact_id (a Contact of that onboarding),
requirement_id (a RequirementItem of that onboarding)."""

from django.urls import path

from onboarding.workspace import steps

ONE = "onboardings/<int:onboarding_id>/"
STAKEHOLDER = ONE + "handoff/stakeholders/<int:contact_id>/"
REQUIREMENT = ONE + "requirements/<int:requirement_id>/"

urlpatterns = [
    path(ONE + "handoff/", steps.handoff, name="handoff"),
    path(ONE + "handoff/stakeholders/", steps.stakeholder_add, name="stakeholder-add"),
    path(STAKEHOLDER, steps.stakeholder_edit, name="stakeholder-edit"),
    path(STAKEHOLDER + "delete/", steps.stakeholder_delete, name="stakeholder-delete"),
    path(ONE + "phase/", steps.phase, name="phase"),
    path(ONE + "kickoff/", steps.kickoff, name="kickoff"),
    path(ONE + "kickoff.ics", steps.kickoff_ics, name="kickoff-ics"),
    path(ONE + "kickoff/cancel/", steps.kickoff_cancel, name="kickoff-cancel"),
    path(ONE + "requirements/", steps.requirements, name="requirements"),
    path(REQUIREMENT, steps.requirement_edit, name="requirement-edit"),
    path(REQUIREMENT + "delete/", steps.requirement_delete, name="requirement-delete"),
    path(REQUIREMENT + "task/", steps.requirement_task, name="requirement-task"),
]
