"""Who may see the dashboard (active staff) and who may act on jobs (``backroom.change_job``)."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import global_settings, settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

CHANGE_PERMISSION = "backroom.change_job"

View = Callable[..., HttpResponse]


def login_url() -> str:
    """The project's LOGIN_URL when it set one, else the admin's login page."""
    if settings.LOGIN_URL == global_settings.LOGIN_URL:
        try:
            return reverse("admin:login")
        except NoReverseMatch:
            pass
    return str(settings.LOGIN_URL)


def is_staff(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def can_act(request: HttpRequest) -> bool:
    return is_staff(request) and request.user.has_perm(CHANGE_PERMISSION)


def staff_required(view: View) -> View:
    """Send anonymous visitors to log in; refuse logged-in users who are not staff (403)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url())
        if not is_staff(request):
            raise PermissionDenied("The backroom dashboard is for staff.")
        return view(request, *args, **kwargs)

    return guarded


def action(view: View) -> View:
    """An action: staff only, POST only, CSRF-checked, and the change permission required."""

    @wraps(view)
    def permitted(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_act(request):
            raise PermissionDenied(f"Acting on jobs needs the {CHANGE_PERMISSION} permission.")
        return view(request, *args, **kwargs)

    return staff_required(require_POST(csrf_protect(permitted)))
