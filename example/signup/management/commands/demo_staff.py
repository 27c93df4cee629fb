"""``manage.py demo_staff``: make sure the demo's staff user can log in, and say how."""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create or repair the demo's superuser, its password kept in the data directory; print its login."

    def handle(self, *args: Any, **options: Any) -> None:
        user, _ = User.objects.get_or_create(username=settings.DEMO_STAFF_USERNAME)
        # Run at every start, so the printed login works even after someone changed it in the admin.
        if not (user.is_active and user.is_staff and user.is_superuser) or not user.check_password(
            settings.DEMO_STAFF_PASSWORD
        ):
            user.is_active = user.is_staff = user.is_superuser = True
            user.set_password(settings.DEMO_STAFF_PASSWORD)
            user.save()
        self.stdout.write(f"user {user.username}, password {settings.DEMO_STAFF_PASSWORD}")
