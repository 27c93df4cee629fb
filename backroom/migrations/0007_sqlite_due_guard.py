from django.db import migrations

from backroom.brokers.database import dialect_for


def create_due_guard(apps, schema_editor):
    for statement in dialect_for(schema_editor.connection).due_guard_ddl():
        schema_editor.execute(statement)


def drop_due_guard(apps, schema_editor):
    for statement in dialect_for(schema_editor.connection).drop_due_guard_ddl():
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    """SQLite only: a job whose available_at holds no time stays within the claim's reach (Dialect.due_guard_ddl)."""

    dependencies = [
        ("backroom", "0006_job_limits"),
    ]

    operations = [
        migrations.RunPython(create_due_guard, drop_due_guard),
    ]
