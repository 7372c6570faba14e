"""Widget visitors' conversations and usage belong to the widget, not to its owner's account.

Until now they were kept under the widget owner's account, so they showed in that person's
team chat (readable without an audit row, and writable). They get no owner; their usage rows
too, which then become one per day, provider, model, origin and widget (rows of one widget
under two owners, after a change of owner, are added together).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.migrations.exceptions import IrreversibleError
from django.db.models import Count, Q, Sum

COUNTS = ["replies", "failures", "tokens_in", "tokens_out", "estimated_replies"]
WIDGET_KEY = ["day", "provider", "model", "origin", "widget"]


def checked_at_once(schema_editor):
    # PostgreSQL defers Django's foreign key checks to the end of the transaction; rows updated
    # twice here would leave such checks pending, and then the constraint below cannot be
    # made ("pending trigger events"). Checked at each statement instead, nothing is pending.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def to_the_widget(apps, schema_editor):
    checked_at_once(schema_editor)
    Conversation = apps.get_model("conversations", "Conversation")
    DailyUsage = apps.get_model("conversations", "DailyUsage")
    Conversation.objects.filter(origin="widget").update(owner=None)
    rows = DailyUsage.objects.filter(widget__isnull=False)
    twins = rows.values(*WIDGET_KEY).annotate(n=Count("id")).filter(n__gt=1).order_by()
    for key in twins:
        group = rows.filter(**{name: key[name] for name in WIDGET_KEY}).order_by("pk")
        totals = group.aggregate(**{name: Sum(name) for name in COUNTS})
        keep = group.first()
        group.exclude(pk=keep.pk).delete()
        DailyUsage.objects.filter(pk=keep.pk).update(**totals)
    DailyUsage.objects.filter(Q(origin="widget") | Q(widget__isnull=False)).update(owner=None)


def to_the_owner(apps, schema_editor):
    checked_at_once(schema_editor)
    Conversation = apps.get_model("conversations", "Conversation")
    DailyUsage = apps.get_model("conversations", "DailyUsage")
    for model in (Conversation, DailyUsage):
        model.objects.filter(owner__isnull=True, widget__isnull=False).update(
            owner=models.Subquery(
                apps.get_model("widgets", "Widget")
                .objects.filter(pk=models.OuterRef("widget"))
                .values("owner")[:1]
            )
        )
        orphans = model.objects.filter(owner__isnull=True).count()
        if orphans:
            raise IrreversibleError(
                f"{orphans} {model._meta.verbose_name_plural} have neither an owner nor a "
                "widget (it was deleted): give them an owner before going back."
            )


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0011_conversation_upstream_gone"),
        ("widgets", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="conversation",
            name="owner",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="conversations",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="dailyusage",
            name="owner",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="usage_days",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RemoveConstraint(model_name="dailyusage", name="one_usage_row_per_widget"),
        migrations.RunPython(to_the_widget, to_the_owner),
        migrations.AddConstraint(
            model_name="dailyusage",
            constraint=models.UniqueConstraint(
                condition=models.Q(("widget__isnull", False)),
                fields=("day", "provider", "model", "origin", "widget"),
                name="one_usage_row_per_widget",
            ),
        ),
    ]
