from django.apps import AppConfig


class BackroomConfig(AppConfig):
    name = "backroom"
    verbose_name = "backroom"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the checks of BACKROOM's other settings
        from .scheduler import checks as schedule_checks  # noqa: F401 - registers the schedule checks
