"""Step 4: the mutual action plan editor. Kwargs: onboarding_id, task_id, milestone_id."""

from django.urls import path

from onboarding.workspace import plan, plan_milestones

PLAN = "onboardings/<int:onboarding_id>/plan/"
TASK = PLAN + "tasks/<int:task_id>/"
MILESTONE = PLAN + "milestones/<int:milestone_id>/"

urlpatterns = [
    path(PLAN, plan.plan_page, name="plan"),
    path(PLAN + "tasks/add/", plan.task_add, name="task-add"),
    path(TASK + "edit/", plan.task_edit, name="task-edit"),
    path(TASK + "date/", plan.task_date, name="task-date"),
    path(TASK + "delete/", plan.task_delete, name="task-delete"),
    path(TASK + "move/", plan.task_move, name="task-move"),
    path(TASK + "comments/", plan.task_comments, name="task-comments"),
    path(TASK + "files/<int:attachment_id>/", plan.task_file, name="task-file"),
    path(PLAN + "milestones/add/", plan_milestones.milestone_add, name="milestone-add"),
    path(MILESTONE + "edit/", plan_milestones.milestone_edit, name="milestone-edit"),
    path(MILESTONE + "delete/", plan_milestones.milestone_delete, name="milestone-delete"),
    path(MILESTONE + "move/", plan_milestones.milestone_move, name="milestone-move"),
]
