"""A task module declaring its schedule with the decorator, as a project's tasks.py would."""

from backroom import schedule, task


@schedule(cron="*/5 * * * *", timezone="Europe/Paris", queue_name="cache", priority=5)
@task
def refresh_cache(region="eu"):
    return region
