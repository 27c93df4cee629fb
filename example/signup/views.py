"""Sign-up in two modes: the welcome email enqueued (background) or sent inside the request (sync)."""

import time

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from backroom import status_token

from .forms import SignupForm
from .tasks import send_welcome_email


@require_GET
def signup_page(request: HttpRequest) -> HttpResponse:
    mode = "sync" if request.GET.get("mode") == "sync" else "background"
    return render(request, "signup/signup.html", {"form": SignupForm(initial={"mode": mode}), "mode": mode})


@require_POST
def register_user(request: HttpRequest) -> HttpResponse:
    """Create the user and see to the welcome email; the page shows how long the server took."""
    started = time.perf_counter()
    form = SignupForm(request.POST)
    if not form.is_valid():
        mode = form.data.get("mode", "background")
        return render(request, "signup/signup.html", {"form": form, "mode": mode}, status=400)
    email, mode = form.cleaned_data["email"], form.cleaned_data["mode"]
    context = {"email": email, "mode": mode}
    if mode == "sync":
        User.objects.create_user(username=email, email=email)
        context["sync_outcome"] = _send_now(email)
    else:
        # The user and the job commit together: no email for a user that was rolled back.
        with transaction.atomic():
            User.objects.create_user(username=email, email=email)
            result = send_welcome_email.enqueue(email)
        context["status_token"] = status_token(result)
    server_ms = (time.perf_counter() - started) * 1000
    context["server_ms"] = f"{server_ms:.1f}"
    response = render(request, "signup/registered.html", context)
    response["Server-Timing"] = f"app;dur={server_ms:.1f}"
    return response


def _send_now(email: str) -> str:
    """Send the email the slow way, inside the request, and say how it went."""
    try:
        send_welcome_email.call(email)
    except OSError as exc:
        return f"failed: {exc}"
    return "sent"
