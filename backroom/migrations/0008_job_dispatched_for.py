from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('backroom', '0007_sqlite_due_guard'),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='dispatched_for',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
