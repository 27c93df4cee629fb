from django.apps import AppConfig


class BackroomConfig(AppConfig):
    name = "backroom"
    verbose_name = "backroom"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .scheduler import checks  # noqa: F401 - registers the schedule checks
