"""The dashboard's schedules: each with its source and runs; database ones added, edited, paused, deleted.

Changes go through ``ScheduleForm``, as in the admin, under the model's own
permissions, and schedulers pick them up at their next tick.
"""

import logging

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from ..models import StoredSchedule
from ..scheduler.form import ScheduleForm
from ..scheduler.listing import listed
from ..scheduler.stored import set_enabled
from .access import (
    ADD_SCHEDULE_PERMISSION,
    CHANGE_SCHEDULE_PERMISSION,
    DELETE_SCHEDULE_PERMISSION,
    actor,
    may,
    needing,
    viewer_required,
)
from .stores import Shown, page_context, shown_for

logger = logging.getLogger(__name__)
TEMPLATES = "backroom/dashboard/"
TAKES_EFFECT = "schedulers use the change from their next tick"


def _to_list(store: Shown) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("backroom:schedules") + store.query())


@viewer_required
def schedules(request: HttpRequest) -> HttpResponse:
    context = page_context(
        request,
        shown_for(request),
        entries=listed(timezone.now()),
        can_add=may(request, ADD_SCHEDULE_PERMISSION),
        can_change=may(request, CHANGE_SCHEDULE_PERMISSION),
    )
    return render(request, TEMPLATES + "schedules.html", context)


@needing(ADD_SCHEDULE_PERMISSION, post_only=False)
def add_schedule(request: HttpRequest) -> HttpResponse:
    return _edit(request, StoredSchedule())


@needing(CHANGE_SCHEDULE_PERMISSION, post_only=False)
def edit_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, get_object_or_404(StoredSchedule, pk=pk))


def _edit(request: HttpRequest, row: StoredSchedule) -> HttpResponse:
    store = shown_for(request)
    # Prefixed: the form's "backend" (the schedule's) is not the dashboard's ?backend= (the store shown).
    form = ScheduleForm(request.POST if request.method == "POST" else None, instance=row, prefix="schedule")
    if form.is_bound and form.is_valid():
        saved = form.save()
        logger.info("schedule name=%s saved by %s", saved.name, actor(request))
        messages.success(request, f"Schedule {saved.name!r} saved: {TAKES_EFFECT}.", fail_silently=True)
        return _to_list(store)
    can_delete = row.pk is not None and may(request, DELETE_SCHEDULE_PERMISSION)
    context = page_context(request, store, form=form, row=row, can_delete=can_delete)
    return render(request, TEMPLATES + "schedule.html", context)


def _pause_or_resume(request: HttpRequest, pk: int, enabled: bool) -> HttpResponse:
    row = get_object_or_404(StoredSchedule, pk=pk)
    set_enabled(StoredSchedule.objects.filter(pk=pk), enabled)
    done = "resumed" if enabled else "paused"
    logger.info("schedule name=%s %s by %s", row.name, done, actor(request))
    messages.success(request, f"Schedule {row.name!r} {done}: {TAKES_EFFECT}.", fail_silently=True)
    return _to_list(shown_for(request))


@needing(CHANGE_SCHEDULE_PERMISSION)
def pause_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    return _pause_or_resume(request, pk, enabled=False)


@needing(CHANGE_SCHEDULE_PERMISSION)
def resume_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    return _pause_or_resume(request, pk, enabled=True)


@needing(DELETE_SCHEDULE_PERMISSION)
def delete_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(StoredSchedule, pk=pk)
    row.delete()
    logger.info("schedule name=%s deleted by %s", row.name, actor(request))
    messages.success(request, f"Schedule {row.name!r} deleted: {TAKES_EFFECT}.", fail_silently=True)
    return _to_list(shown_for(request))
