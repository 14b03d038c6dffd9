"""Admins edit the tenant's playbooks: phases, tasks, offsets, milestones, resources.

Rules kept here, for any caller:

* a playbook's length is derived: the latest due day of its tasks and milestones. It must stay in
  the typical range of its model (playbook_defaults.TYPICAL_RANGE); a change that leaves it outside
  is refused with the range in the message, and nothing of it is saved;
* due offsets are whole days from the contract start, 0 to 365;
* a task depends only on tasks of the same playbook, never on itself, and never in a loop;
* a task others depend on cannot be deleted until they no longer do;
* each model keeps exactly one default playbook (imports pick it), and a default is not deleted.

New playbooks start as a copy of an existing one (the three defaults to begin with), so they always
have a valid length. Onboardings copy their playbook when they start (services.playbooks), so
editing a playbook never rewrites an onboarding already running.

Each change runs in one transaction that locks the playbook row first: two admins editing the same
playbook at once cannot together push its length out of range. The activity log belongs to
onboardings (ActivityEntry.onboarding is required), so playbook changes are logged here instead.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify

from accounts.models import User
from onboarding import playbook_defaults as defaults
from onboarding.models import (
    Onboarding,
    Playbook,
    PlaybookMilestone,
    PlaybookResource,
    PlaybookTask,
    Side,
    TouchModel,
    TrainingResource,
)
from onboarding.services.training import clean_url

log = logging.getLogger(__name__)

MAX_OFFSET = 365
PHASES = [(s.value, s.label) for s in Onboarding.Status if s != Onboarding.Status.CLOSED]
PHASE_VALUES = {value for value, _ in PHASES}
MAX_TEXT = 5000


def _name(by: User) -> str:
    return by.get_full_name()


def _log(by: User, text: str) -> None:
    log.info("playbook edit by user %s: %s", by.pk, text)


def _lock(playbook: Playbook) -> Playbook:
    return Playbook.objects.select_for_update().get(pk=playbook.pk)


def typical_range(model: str) -> tuple[int, int]:
    return defaults.TYPICAL_RANGE[model]


def derived_length(playbook: Playbook) -> int:
    """The latest due day of the playbook's tasks and milestones (0 when it has none)."""
    latest_task = playbook.tasks.aggregate(n=Max("due_offset_days"))["n"] or 0
    latest_milestone = playbook.milestones.aggregate(n=Max("due_offset_days"))["n"] or 0
    return max(latest_task, latest_milestone)


def length_problem(model: str, length: int) -> str:
    """'' when `length` days is in the model's typical range, else a sentence saying so."""
    low, high = typical_range(model)
    if low <= length <= high:
        return ""
    label = TouchModel(model).label.lower()
    return (
        f"With this change the playbook would run {length} days; a {label} playbook runs "
        f"{low}–{high} days. Keep the latest due day between day {low} and day {high}."
    )


def _settle_length(playbook: Playbook, field: str | None) -> None:
    """Store the derived length, or refuse the change (raised inside the caller's transaction,
    so the change is rolled back with it)."""
    length = derived_length(playbook)
    problem = length_problem(playbook.model, length)
    if problem:
        raise ValidationError({field: problem} if field else problem)
    if playbook.length_days != length:
        playbook.length_days = length
        playbook.save(update_fields=["length_days"])


def _offset(value: Any, errors: dict[str, str]) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_OFFSET:
        errors["due_offset_days"] = f"Enter a whole number of days from 0 to {MAX_OFFSET}."
        return 0
    return value


def _text(data: dict, name: str, limit: int, errors: dict, required: str = "") -> str:
    value = (data.get(name) or "").strip()
    if required and not value:
        errors[name] = required
    elif len(value) > limit:
        errors[name] = f"At most {limit:,} characters."
    return value


def _unique_key(taken: set[str], text: str) -> str:
    base = slugify(text)[:50].strip("-") or "item"
    key, n = base, 2
    while key in taken:
        key = f"{base}-{n}"
        n += 1
    return key


# --- Playbooks ---------------------------------------------------------------------------------


def _clean_playbook_name(name: Any, playbook: Playbook | None, errors: dict[str, str]) -> str:
    name = (name or "").strip()
    if not name:
        errors["name"] = "Name the playbook, e.g. Enterprise with data migration."
    elif len(name) > 120:
        errors["name"] = "At most 120 characters."
    else:
        others = Playbook.objects.filter(name__iexact=name)
        if playbook is not None:
            others = others.exclude(pk=playbook.pk)
        if others.exists():
            errors["name"] = f"There is already a playbook called “{name}”."
    return name


@transaction.atomic
def duplicate_playbook(source: Playbook, name: str, by: User) -> Playbook:
    """A new playbook with everything of `source`: how admins start a playbook of their own."""
    errors: dict[str, str] = {}
    name = _clean_playbook_name(name, None, errors)
    if errors:
        raise ValidationError(errors)
    copy = Playbook.objects.create(
        name=name, model=source.model, length_days=source.length_days, is_default=False
    )
    milestones = list(source.milestones.order_by("position", "id"))
    new_milestones = PlaybookMilestone.objects.bulk_create(
        PlaybookMilestone(
            playbook=copy,
            key=m.key,
            name=m.name,
            success_criteria=m.success_criteria,
            due_offset_days=m.due_offset_days,
            position=m.position,
            is_first_value=m.is_first_value,
        )
        for m in milestones
    )
    milestone_map = {m.pk: new.pk for m, new in zip(milestones, new_milestones, strict=True)}
    PlaybookTask.objects.bulk_create(
        PlaybookTask(
            playbook=copy,
            milestone_id=milestone_map.get(t.milestone_id),
            key=t.key,
            phase=t.phase,
            title=t.title,
            description=t.description,
            owner_side=t.owner_side,
            due_offset_days=t.due_offset_days,
            depends_on_keys=list(t.depends_on_keys),
            position=t.position,
        )
        for t in source.tasks.order_by("position", "id")
    )
    PlaybookResource.objects.bulk_create(
        PlaybookResource(
            playbook=copy,
            title=r.title,
            kind=r.kind,
            url=r.url,
            audience=r.audience,
            position=r.position,
        )
        for r in source.resources.order_by("position", "id")
    )
    _log(by, f"{_name(by)} created the playbook “{copy.name}” from “{source.name}”")
    return copy


@transaction.atomic
def update_playbook(playbook: Playbook, data: dict[str, Any], by: User) -> Playbook:
    """Rename, change the model (its length must fit the new model's range), make default."""
    playbook = _lock(playbook)
    errors: dict[str, str] = {}
    name = _clean_playbook_name(data.get("name"), playbook, errors)
    model = data.get("model") or ""
    if model not in TouchModel.values:
        errors["model"] = "Choose high-, mid- or low-touch."
    elif model != playbook.model:
        problem = length_problem(model, derived_length(playbook))
        if problem:
            errors["model"] = problem
        elif playbook.is_default:
            errors["model"] = (
                "This is the default playbook of its model; make another playbook the default "
                "before changing this one's model."
            )
    make_default = bool(data.get("is_default"))
    if playbook.is_default and not make_default:
        errors["is_default"] = (
            "Imports need a default playbook for each model; make another playbook the default "
            "instead."
        )
    if errors:
        raise ValidationError(errors)
    if make_default and not playbook.is_default:
        # One default per model (a constraint): the old one steps down first.
        Playbook.objects.filter(model=model, is_default=True).update(is_default=False)
    changed = [
        k
        for k, v in (("name", name), ("model", model), ("is_default", make_default))
        if getattr(playbook, k) != v
    ]
    playbook.name, playbook.model, playbook.is_default = name, model, make_default
    playbook.save(update_fields=["name", "model", "is_default"])
    if changed:
        _log(by, f"{_name(by)} updated the playbook “{playbook.name}”: {', '.join(changed)}")
    return playbook


@transaction.atomic
def delete_playbook(playbook: Playbook, by: User) -> None:
    playbook = _lock(playbook)
    if playbook.is_default:
        raise ValidationError(
            "This is the default playbook of its model; make another one the default first."
        )
    name = playbook.name
    playbook.delete()  # onboardings started from it keep their plan (their playbook is cleared)
    _log(by, f"{_name(by)} deleted the playbook “{name}”")


# --- Milestones --------------------------------------------------------------------------------


def _clean_milestone(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values = {
        "name": _text(data, "name", 200, errors, "Name the milestone, e.g. First value."),
        "success_criteria": _text(data, "success_criteria", MAX_TEXT, errors),
        "due_offset_days": _offset(data.get("due_offset_days"), errors),
        "is_first_value": bool(data.get("is_first_value")),
    }
    if errors:
        raise ValidationError(errors)
    return values


@transaction.atomic
def save_milestone(
    playbook: Playbook,
    data: dict[str, Any],
    by: User,
    milestone: PlaybookMilestone | None = None,
) -> PlaybookMilestone:
    playbook = _lock(playbook)
    values = _clean_milestone(data)
    if milestone is None:
        taken = set(playbook.milestones.values_list("key", flat=True))
        last = playbook.milestones.aggregate(n=Max("position"))["n"]
        milestone = PlaybookMilestone(
            playbook=playbook,
            key=_unique_key(taken, values["name"]),
            position=0 if last is None else last + 1,
        )
        verb = "added"
    else:
        verb = "changed"
    for k, v in values.items():
        setattr(milestone, k, v)
    milestone.save()
    if milestone.is_first_value:
        # One first-value milestone: time to first value is measured to it.
        playbook.milestones.exclude(pk=milestone.pk).update(is_first_value=False)
    _settle_length(playbook, "due_offset_days")
    _log(by, f"{_name(by)} {verb} the milestone “{milestone.name}” of “{playbook.name}”")
    return milestone


@transaction.atomic
def delete_milestone(milestone: PlaybookMilestone, by: User) -> None:
    playbook = _lock(milestone.playbook)
    name = milestone.name
    milestone.delete()  # its tasks stay, without a milestone
    _settle_length(playbook, None)
    _log(by, f"{_name(by)} deleted the milestone “{name}” of “{playbook.name}”")


# --- Tasks -------------------------------------------------------------------------------------


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency loop as a list of keys (first == last), or None. Iterative DFS."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if state.get(root):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            children = graph.get(node, [])
            if i < len(children):
                stack.append((node, i + 1))
                child = children[i]
                if state.get(child) == 1:
                    return path[path.index(child) :] + [child]
                if not state.get(child):
                    stack.append((child, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def _clean_task(
    playbook: Playbook, data: dict[str, Any], task: PlaybookTask | None
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    title = _text(data, "title", 300, errors, "Give the task a title, e.g. Configure SSO.")
    description = _text(data, "description", MAX_TEXT, errors)
    phase = data.get("phase") or ""
    if phase not in PHASE_VALUES:
        errors["phase"] = "Choose the phase the task belongs to."
    owner_side = data.get("owner_side") or ""
    if owner_side not in Side.values:
        errors["owner_side"] = "Choose who does it: the vendor or the customer."
    offset = _offset(data.get("due_offset_days"), errors)
    milestone = data.get("milestone")
    if milestone is not None and (
        not isinstance(milestone, PlaybookMilestone) or milestone.playbook_id != playbook.pk
    ):
        errors["milestone"] = "Choose one of this playbook's milestones."
    others = {
        t.key: t
        for t in PlaybookTask.objects.filter(playbook=playbook).only(
            "id", "key", "title", "depends_on_keys"
        )
    }
    own_key = task.key if task is not None else None
    wanted = [str(k) for k in data.get("depends_on_keys") or []]
    unknown = [k for k in wanted if k not in others or k == own_key]
    if own_key is not None and own_key in wanted:
        errors["depends_on_keys"] = "A task cannot depend on itself."
    elif unknown:
        errors["depends_on_keys"] = (
            "Choose prerequisites among this playbook's other tasks (unknown: "
            + ", ".join(unknown)
            + ")."
        )
    elif own_key is not None and wanted:
        graph = {k: list(t.depends_on_keys) for k, t in others.items()}
        graph[own_key] = wanted
        loop = find_cycle(graph)
        if loop:
            titles = " → ".join(f"“{others[k].title}”" for k in loop)
            errors["depends_on_keys"] = f"That would make a loop: {titles}."
    if errors:
        raise ValidationError(errors)
    return {
        "title": title,
        "description": description,
        "phase": phase,
        "owner_side": owner_side,
        "due_offset_days": offset,
        "milestone": milestone,
        "depends_on_keys": list(dict.fromkeys(wanted)),
        "_taken": set(others),
    }


@transaction.atomic
def save_task(
    playbook: Playbook, data: dict[str, Any], by: User, task: PlaybookTask | None = None
) -> PlaybookTask:
    """Add or change a task. A new task cannot be part of a loop: nothing depends on it yet."""
    playbook = _lock(playbook)
    values = _clean_task(playbook, data, task)
    taken = values.pop("_taken")
    if task is None:
        last = playbook.tasks.aggregate(n=Max("position"))["n"]
        task = PlaybookTask(
            playbook=playbook,
            key=_unique_key(taken, values["title"]),
            position=0 if last is None else last + 1,
        )
        verb = "added"
    else:
        verb = "changed"
    for k, v in values.items():
        setattr(task, k, v)
    task.save()
    _settle_length(playbook, "due_offset_days")
    _log(by, f"{_name(by)} {verb} the task “{task.title}” of “{playbook.name}”")
    return task


@transaction.atomic
def delete_task(task: PlaybookTask, by: User) -> None:
    playbook = _lock(task.playbook)
    dependents = [
        t.title
        for t in playbook.tasks.exclude(pk=task.pk).only("title", "depends_on_keys")
        if task.key in t.depends_on_keys
    ]
    if dependents:
        names = ", ".join(f"“{t}”" for t in dependents)
        raise ValidationError(f"{names} depend on this task; remove those dependencies first.")
    title = task.title
    task.delete()
    _settle_length(playbook, None)
    _log(by, f"{_name(by)} deleted the task “{title}” of “{playbook.name}”")


# --- Resources ---------------------------------------------------------------------------------


def _clean_resource(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    title = _text(data, "title", 200, errors, "Give the resource a title, e.g. Quick-start guide.")
    kind = data.get("kind") or ""
    if kind not in TrainingResource.Kind.values:
        errors["kind"] = "Choose what kind of material it is."
    url = clean_url(data.get("url"), "url", errors)
    if not url and kind in (TrainingResource.Kind.VIDEO, TrainingResource.Kind.KNOWLEDGE_BASE):
        errors.setdefault("url", "Add the link where people find it.")
    audience = _text(data, "audience", 120, errors)
    if errors:
        raise ValidationError(errors)
    return {"title": title, "kind": kind, "url": url, "audience": audience}


@transaction.atomic
def save_resource(
    playbook: Playbook,
    data: dict[str, Any],
    by: User,
    resource: PlaybookResource | None = None,
) -> PlaybookResource:
    playbook = _lock(playbook)
    values = _clean_resource(data)
    if resource is None:
        last = playbook.resources.aggregate(n=Max("position"))["n"]
        resource = PlaybookResource(playbook=playbook, position=0 if last is None else last + 1)
    for k, v in values.items():
        setattr(resource, k, v)
    resource.save()
    _log(by, f"{_name(by)} saved the resource “{resource.title}” of “{playbook.name}”")
    return resource


@transaction.atomic
def delete_resource(resource: PlaybookResource, by: User) -> None:
    playbook = _lock(resource.playbook)
    title = resource.title
    resource.delete()
    _log(by, f"{_name(by)} deleted the resource “{title}” of “{playbook.name}”")
