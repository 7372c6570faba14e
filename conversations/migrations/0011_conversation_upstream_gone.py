# A conversation the provider no longer has, and the conversation that continues it (issue 12).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0010_replaced_turns_and_error_detail"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="upstream_gone",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="continued_from",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="continuations",
                to="conversations.conversation",
            ),
        ),
    ]
