from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('backroom', '0004_job_links'),
    ]

    operations = [
        migrations.CreateModel(
            name='PausedQueue',
            fields=[
                ('queue_name', models.CharField(max_length=64, primary_key=True, serialize=False)),
                ('paused_at', models.DateTimeField()),
                ('paused_by', models.CharField(max_length=255)),
            ],
            options={
                'db_table': 'backroom_paused_queue',
                'ordering': ['queue_name'],
            },
        ),
    ]
