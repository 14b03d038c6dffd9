"""Steps 1-3 of an onboarding: handoff (with stakeholders and the phase gate), kickoff,
requirements. Kwargs: onboarding_id (Onboarding), contact_id (a Contact of that onboarding),
requirement_id (a RequirementItem of that onboarding)."""

from django.urls import path

from onboarding.workspace import handoff, kickoff, requirements

ONE = "onboardings/<int:onboarding_id>/"
STAKEHOLDER = ONE + "handoff/stakeholders/<int:contact_id>/"
REQUIREMENT = ONE + "requirements/<int:requirement_id>/"

urlpatterns = [
    path(ONE + "handoff/", handoff.handoff, name="handoff"),
    path(ONE + "handoff/stakeholders/", handoff.stakeholder_add, name="stakeholder-add"),
    path(STAKEHOLDER, handoff.stakeholder_edit, name="stakeholder-edit"),
    path(STAKEHOLDER + "delete/", handoff.stakeholder_delete, name="stakeholder-delete"),
    path(ONE + "phase/", handoff.phase, name="phase"),
    path(ONE + "kickoff/", kickoff.kickoff, name="kickoff"),
    path(ONE + "kickoff.ics", kickoff.kickoff_ics, name="kickoff-ics"),
    path(ONE + "kickoff/cancel/", kickoff.kickoff_cancel, name="kickoff-cancel"),
    path(ONE + "requirements/", requirements.requirements, name="requirements"),
    path(REQUIREMENT, requirements.requirement_edit, name="requirement-edit"),
    path(REQUIREMENT + "delete/", requirements.requirement_delete, name="requirement-delete"),
    path(REQUIREMENT + "task/", requirements.requirement_task, name="requirement-task"),
]
