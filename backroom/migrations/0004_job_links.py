from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('backroom', '0003_job_expires_at'),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='links',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='job',
            name='waiting_for',
            field=models.IntegerField(blank=True, null=True),
        ),
    ]
