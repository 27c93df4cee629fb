"""``/backroom/metrics``: Prometheus text for dashboard viewers or ``BACKROOM["METRICS_TOKEN"]``."""

import hmac

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ..dashboard.access import can_view
from .collector import StoreCollector


def _token() -> str | None:
    token = getattr(settings, "BACKROOM", {}).get("METRICS_TOKEN")
    return str(token) if token else None


def _bearer_matches(request: HttpRequest) -> bool:
    token = _token()
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if token is None or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(offered.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not (_bearer_matches(request) or can_view(request)):
        if request.user.is_authenticated:
            raise PermissionDenied(
                "Metrics are for staff who may view jobs, or a bearer of BACKROOM['METRICS_TOKEN']."
            )
        refused = HttpResponse("Authentication required.\n", status=401, content_type="text/plain")
        refused["WWW-Authenticate"] = 'Bearer realm="backroom"'
        return refused
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
