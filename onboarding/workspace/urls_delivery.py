"""Training, close, stakeholders, calendars (per onboarding) and playbooks (per tenant).

Kwargs name the object they resolve, always under its parent: group_id (TrainingGroup),
session_id (TrainingSession), resource_id (TrainingResource), contact_id (Contact), access_id
(PortalAccess) of the onboarding; playbook_task_id (PlaybookTask), playbook_milestone_id
(PlaybookMilestone), playbook_resource_id (PlaybookResource) of the playbook.
"""

from django.urls import path

from . import calendars, closing, playbooks, stakeholders, training

ONB = "onboardings/<int:onboarding_id>/"
BOOK = "playbooks/<int:playbook_id>/"

urlpatterns = [
    path(f"{ONB}training/", training.training, name="training"),
    path(
        f"{ONB}training/groups/<int:group_id>/",
        training.training_group_edit,
        name="training-group-edit",
    ),
    path(
        f"{ONB}training/sessions/<int:session_id>/",
        training.training_session_edit,
        name="training-session-edit",
    ),
    path(
        f"{ONB}training/resources/<int:resource_id>/",
        training.training_resource_edit,
        name="training-resource-edit",
    ),
    path(f"{ONB}champions/<int:contact_id>/", training.champion_trained, name="champion-trained"),
    path(f"{ONB}close/", closing.close, name="close"),
    path(f"{ONB}qbr.ics", calendars.qbr_ics, name="qbr-ics"),
    path(f"{ONB}calendar.ics", calendars.milestones_calendar, name="milestones-calendar"),
    path(f"{ONB}stakeholders/", stakeholders.stakeholders, name="stakeholders"),
    path(f"{ONB}stakeholders/invite/", stakeholders.stakeholder_invite, name="stakeholder-invite"),
    path(
        f"{ONB}stakeholders/<int:access_id>/resend/",
        stakeholders.stakeholder_resend,
        name="stakeholder-resend",
    ),
    path(
        f"{ONB}stakeholders/<int:access_id>/revoke/",
        stakeholders.stakeholder_revoke,
        name="stakeholder-revoke",
    ),
    path("playbooks/", playbooks.playbooks, name="playbooks"),
    path(BOOK, playbooks.playbook, name="playbook"),
    path(
        f"{BOOK}tasks/<int:playbook_task_id>/",
        playbooks.playbook_task_edit,
        name="playbook-task-edit",
    ),
    path(
        f"{BOOK}milestones/<int:playbook_milestone_id>/",
        playbooks.playbook_milestone_edit,
        name="playbook-milestone-edit",
    ),
    path(
        f"{BOOK}resources/<int:playbook_resource_id>/",
        playbooks.playbook_resource_edit,
        name="playbook-resource-edit",
    ),
]
