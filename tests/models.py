from django.db import models


class Run(models.Model):
    """One execution of a test task, written by the task itself."""

    label = models.CharField(max_length=200, db_index=True)
    pid = models.IntegerField()
    at = models.DateTimeField(auto_now_add=True)
