"""The dashboard's pages. A page's live parts are regions, re-rendered alone with ``?region=NAME``."""

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ..brokers.base import JobRecord
from ..monitoring import take_snapshot
from .access import staff_required
from .forms import JobFilterForm
from .overview import queue_charts, queue_rows
from .stores import Store, page_context, store_for
from .timeline import timeline

PAGE_SIZE = 50
FAILED_TASKS_SHOWN = 20
TEMPLATES = "backroom/dashboard/"
ACTIVE = ("READY", "RUNNING")

# Region name -> (template, reader adding what it shows to the context).
Reader = Callable[[HttpRequest, Store], dict[str, Any]]


def _render_regions(
    request: HttpRequest, store: Store, page: str, regions: dict[str, tuple[str, Reader]], **extra: Any
) -> HttpResponse:
    """Render the whole page, or only the region the ``region`` parameter names."""
    name = request.GET.get("region")
    if name is not None and name not in regions:
        raise Http404("No such region.")
    wanted = {name: regions[name]} if name else regions
    region_urls = {region: request.path + store.query(region=region) for region in regions}
    context = page_context(request, store, region_urls=region_urls, **extra)
    for _template, read in wanted.values():
        context.update(read(request, store))
    template = regions[name][0] if name else page
    return render(request, TEMPLATES + template, context)


def _queues(request: HttpRequest, store: Store) -> dict[str, Any]:
    snapshot = take_snapshot(store.alias, store.inspector, timezone.now())
    return {
        "snapshot": snapshot,
        "rows": queue_rows(snapshot),
        "failed_tasks": store.inspector.failed_tasks(FAILED_TASKS_SHOWN),
    }


def _charts(request: HttpRequest, store: Store) -> dict[str, Any]:
    return {"charts": queue_charts(store.inspector, timezone.now())}


def _workers(request: HttpRequest, store: Store) -> dict[str, Any]:
    return {"snapshot": take_snapshot(store.alias, store.inspector, timezone.now())}


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    regions: dict[str, tuple[str, Reader]] = {
        "queues": ("_queues.html", _queues),
        "charts": ("_charts.html", _charts),
    }
    return _render_regions(request, store_for(request), "overview.html", regions)


@staff_required
def workers(request: HttpRequest) -> HttpResponse:
    regions: dict[str, tuple[str, Reader]] = {"workers": ("_workers.html", _workers)}
    return _render_regions(request, store_for(request), "workers.html", regions)


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


@staff_required
def jobs(request: HttpRequest) -> HttpResponse:
    store = store_for(request)
    form = JobFilterForm(request.GET)
    found: list[JobRecord] = []
    has_next = False
    page = _page_number(request)
    filters: dict[str, Any] = {}
    if form.is_valid():
        listing = store.inspector.jobs(form.to_filter(), offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        found, has_next = listing.jobs, listing.has_next
        filters = {key: request.GET.get(key) for key in form.fields}
    context = page_context(
        request,
        store,
        form=form,
        jobs=found,
        page=page,
        previous_query=store.query(**filters, page=page - 1) if page > 1 else None,
        next_query=store.query(**filters, page=page + 1) if has_next else None,
    )
    return render(request, TEMPLATES + "jobs.html", context)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@staff_required
def job(request: HttpRequest, job_id: UUID) -> HttpResponse:
    store = store_for(request)
    record = store.inspector.get(str(job_id))
    if record is None:
        raise Http404("No such job in this backend.")

    def read(request: HttpRequest, store: Store) -> dict[str, Any]:
        current = record
        return {
            "job": current,
            "live": current.status in ACTIVE,
            "cancel_requested": current.status == "RUNNING"
            and store.inspector.is_cancel_requested(current.id),
            "timeline": timeline(current),
            "arguments": _pretty({"args": current.args, "kwargs": current.kwargs}),
            "return_value": _pretty(current.return_value),
            "progress": None if current.progress is None else _pretty(current.progress),
        }

    regions: dict[str, tuple[str, Reader]] = {"job": ("_job.html", read)}
    return _render_regions(request, store, "job.html", regions, job_id=str(job_id))
