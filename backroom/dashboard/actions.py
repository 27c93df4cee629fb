"""The dashboard's actions on jobs and queues: POST, CSRF-checked, for staff with ``backroom.change_job``."""

import logging
from uuid import UUID

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from ..brokers.contract import Cancelled
from ..jobs.building import QUEUE_NAME
from .access import CHANGE_PERMISSION, action, actor, can_act, viewer_required
from .stores import Shown, page_context, shown_for

logger = logging.getLogger(__name__)
TEMPLATES = "backroom/dashboard/"
BULK_VERBS = {"retry": "Retry", "delete": "Delete"}


def _to_job(store: Shown, job_id: UUID) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("backroom:job", args=[job_id]) + store.query())


@action
def retry_job(request: HttpRequest, job_id: UUID) -> HttpResponse:
    store = shown_for(request)
    if store.inspector.retry_job(str(job_id), timezone.now()):
        logger.info("job id=%s retried by %s", job_id, actor(request))
        messages.success(request, "The job is ready to run again.", fail_silently=True)
    else:
        messages.error(
            request,
            "The job was not retried: only failed or cancelled jobs can be, and not while another "
            "active job holds the same unique key.",
            fail_silently=True,
        )
    return _to_job(store, job_id)


@action
def cancel_job(request: HttpRequest, job_id: UUID) -> HttpResponse:
    store = shown_for(request)
    by = actor(request)
    done = store.inspector.cancel(str(job_id), timezone.now(), by=by)
    if done == Cancelled.CANCELLED:
        logger.info("job id=%s cancelled by %s", job_id, by)
        messages.success(request, "The job is cancelled: no worker will run it.", fail_silently=True)
    elif done == Cancelled.REQUESTED:
        logger.info("job id=%s asked to stop by %s", job_id, by)
        messages.success(
            request,
            "The job is running: it was asked to stop, and stops if its task checks is_cancel_requested().",
            fail_silently=True,
        )
    else:
        messages.error(request, "Only ready or running jobs can be cancelled.", fail_silently=True)
    return _to_job(store, job_id)


class TaskForm(forms.Form):
    task = forms.CharField(max_length=255)


def _task(request: HttpRequest) -> str:
    form = TaskForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        raise Http404("Name a task.")
    return str(form.cleaned_data["task"])


@viewer_required
def confirm_failed(request: HttpRequest, verb: str) -> HttpResponse:
    """Show how many failed jobs a bulk action would touch, and the button that does it."""
    if verb not in BULK_VERBS:
        raise Http404("No such action.")
    if not can_act(request):
        raise PermissionDenied(f"Acting on jobs needs the {CHANGE_PERMISSION} permission.")
    store = shown_for(request)
    task = _task(request)
    failures = {f.task_path: f.count for f in store.inspector.failed_tasks(limit=1000)}
    context = page_context(request, store, verb=verb, label=BULK_VERBS[verb], task=task)
    context["count"] = failures.get(task, 0)
    return render(request, TEMPLATES + "confirm.html", context)


@action
def act_on_failed(request: HttpRequest, verb: str) -> HttpResponse:
    if verb not in BULK_VERBS:
        raise Http404("No such action.")
    store = shown_for(request)
    task = _task(request)
    if verb == "retry":
        count = store.inspector.retry_failed(task, timezone.now())
        message = f"{count} failed job(s) of {task} are ready to run again."
    else:
        count = store.inspector.delete_failed(task)
        message = f"{count} failed job(s) of {task} were deleted."
    logger.info("%s failed jobs task=%s count=%d by %s", verb, task, count, actor(request))
    messages.success(request, message, fail_silently=True)
    return _to_overview(store)


def _to_overview(store: Shown) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("backroom:overview") + store.query())


@action
def pause_queue(request: HttpRequest, queue_name: str) -> HttpResponse:
    store = shown_for(request)
    if not QUEUE_NAME.match(queue_name):
        raise Http404("No such queue.")
    by = actor(request)
    if store.inspector.pause_queue(queue_name, timezone.now(), by=by):
        logger.info("queue=%s paused by %s", queue_name, by)
        messages.success(
            request,
            f"Queue {queue_name} is paused: workers leave its jobs waiting (enqueue goes on) until resumed.",
            fail_silently=True,
        )
    else:
        messages.info(request, f"Queue {queue_name} was already paused.", fail_silently=True)
    return _to_overview(store)


@action
def resume_queue(request: HttpRequest, queue_name: str) -> HttpResponse:
    store = shown_for(request)
    if not QUEUE_NAME.match(queue_name):
        raise Http404("No such queue.")
    if store.inspector.resume_queue(queue_name):
        logger.info("queue=%s resumed by %s", queue_name, actor(request))
        messages.success(
            request, f"Queue {queue_name} is resumed: workers claim its jobs again.", fail_silently=True
        )
    else:
        messages.info(request, f"Queue {queue_name} was not paused.", fail_silently=True)
    return _to_overview(store)
