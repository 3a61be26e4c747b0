from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mlpipeline", "0007_registry_split_distribution_retention"),
    ]

    operations = [
        migrations.AddField(
            model_name="trainedmodel",
            name="distribution_error",
            field=models.TextField(blank=True),
        ),
    ]
