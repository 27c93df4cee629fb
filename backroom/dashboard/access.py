"""Who may see the dashboard (``backroom.view_job``) and who may act on jobs (``backroom.change_job``).

Like the admin: both permissions are for active staff, the change permission
includes viewing, and superusers have both. Database schedules are added,
changed and deleted under the model's own permissions, as in the admin.
Every page is sent uncacheable, so that arguments and tracebacks never sit in
a browser's or a proxy's cache.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import global_settings, settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

VIEW_PERMISSION = "backroom.view_job"
CHANGE_PERMISSION = "backroom.change_job"
ADD_SCHEDULE_PERMISSION = "backroom.add_storedschedule"
CHANGE_SCHEDULE_PERMISSION = "backroom.change_storedschedule"
DELETE_SCHEDULE_PERMISSION = "backroom.delete_storedschedule"

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


def can_view(request: HttpRequest) -> bool:
    return is_staff(request) and (
        request.user.has_perm(VIEW_PERMISSION) or request.user.has_perm(CHANGE_PERMISSION)
    )


def actor(request: HttpRequest) -> str:
    """Who did something, for logs and job records."""
    return f"{request.user.get_username()} (dashboard)"


def may(request: HttpRequest, permission: str) -> bool:
    return is_staff(request) and request.user.has_perm(permission)


def can_act(request: HttpRequest) -> bool:
    return may(request, CHANGE_PERMISSION)


def viewer_required(view: View) -> View:
    """Send anonymous visitors to log in; refuse users who may not view jobs (403); never cache."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url())
        if not can_view(request):
            raise PermissionDenied(f"The dashboard is for staff with the {VIEW_PERMISSION} permission.")
        return view(request, *args, **kwargs)

    return never_cache(guarded)


def needing(permission: str, *, post_only: bool = True) -> Callable[[View], View]:
    """Guard a view that changes something: CSRF-checked, ``permission`` required, and POST only
    unless ``post_only`` is False (a form's page, shown on GET)."""

    def guard(view: View) -> View:
        @wraps(view)
        def permitted(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not may(request, permission):
                raise PermissionDenied(f"This needs the {permission} permission.")
            return view(request, *args, **kwargs)

        checked = csrf_protect(permitted)
        return viewer_required(require_POST(checked) if post_only else checked)

    return guard


#: An action on jobs: POST only, CSRF-checked, and the change permission required.
action = needing(CHANGE_PERMISSION)
