"""The dashboard's pages. A page's live parts are regions, re-rendered alone with ``?region=NAME``."""

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ..jobs.links import Takes
from ..jobs.records import ACTIVE, JobRecord, JobStatus
from ..monitoring.health import take_snapshot
from ..redaction import redact
from .access import viewer_required
from .forms import JobFilterForm
from .overview import queue_charts, queue_rows
from .stores import Shown, page_context, shown_for
from .timeline import timeline

PAGE_SIZE = 50
#: The deepest page of the job list: offsets past it help nobody and overflow a store's integers.
MAX_PAGE = 10_000
FAILED_TASKS_SHOWN = 20
TEMPLATES = "backroom/dashboard/"
# What a workflow job gets as its first argument once its parents release it.
_TAKES = {
    Takes.RESULT: "its parent's return value",
    Takes.RESULTS: "the list of its parents' return values, in order",
    Takes.FAILED_ID: "the id of the job that failed",
}

# Region name -> (template, reader adding what it shows to the context).
Reader = Callable[[HttpRequest, Shown], dict[str, Any]]


def _render_regions(
    request: HttpRequest, store: Shown, page: str, regions: dict[str, tuple[str, Reader]], **extra: Any
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


def _queues(request: HttpRequest, store: Shown) -> dict[str, Any]:
    snapshot = take_snapshot(store.store, timezone.now())
    return {
        "snapshot": snapshot,
        "rows": queue_rows(snapshot),
        "failed_tasks": store.inspector.failed_tasks(FAILED_TASKS_SHOWN),
    }


def _charts(request: HttpRequest, store: Shown) -> dict[str, Any]:
    return {"charts": queue_charts(store.inspector, timezone.now())}


def _workers(request: HttpRequest, store: Shown) -> dict[str, Any]:
    return {"snapshot": take_snapshot(store.store, timezone.now())}


@viewer_required
def overview(request: HttpRequest) -> HttpResponse:
    regions: dict[str, tuple[str, Reader]] = {
        "queues": ("_queues.html", _queues),
        "charts": ("_charts.html", _charts),
    }
    return _render_regions(request, shown_for(request), "overview.html", regions)


@viewer_required
def workers(request: HttpRequest) -> HttpResponse:
    regions: dict[str, tuple[str, Reader]] = {"workers": ("_workers.html", _workers)}
    return _render_regions(request, shown_for(request), "workers.html", regions)


def _page_number(request: HttpRequest) -> int:
    """The page asked for; 1 for what is not a number, 404 past MAX_PAGE (narrow the filters instead)."""
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        return 1
    if number > MAX_PAGE:
        raise Http404(f"The job list has at most {MAX_PAGE:,} pages: filter it to go further back.")
    return max(1, number)


@viewer_required
def jobs(request: HttpRequest) -> HttpResponse:
    store = shown_for(request)
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


@viewer_required
def job(request: HttpRequest, job_id: UUID) -> HttpResponse:
    store = shown_for(request)
    found = store.inspector.get(str(job_id))
    if found is None:
        raise Http404("No such job in this backend.")
    record = redact(found)

    def read(request: HttpRequest, store: Shown) -> dict[str, Any]:
        current = record
        return {
            "job": current,
            "live": current.status in ACTIVE,
            "cancel_requested": current.status == JobStatus.RUNNING and current.cancel_requested,
            "timeline": timeline(current),
            "arguments": _pretty({"args": current.args, "kwargs": current.kwargs}),
            "return_value": _pretty(current.return_value),
            "progress": None if current.progress is None else _pretty(current.progress),
            "takes": None
            if current.links is None or current.links.takes is None
            else _TAKES[current.links.takes],
        }

    regions: dict[str, tuple[str, Reader]] = {"job": ("_job.html", read)}
    return _render_regions(request, store, "job.html", regions, job_id=str(job_id))
