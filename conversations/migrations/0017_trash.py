# Trash (issue 14, item 9): when a conversation was deleted from the sidebar. A trashed one is
# in none of the sidebar's lists, so their partial indexes leave it out, and Trash has its own
# (see Conversation.Meta.indexes).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0016_feedback'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='conversation',
            name='conversation_listed',
        ),
        migrations.RemoveIndex(
            model_name='conversation',
            name='conversation_pinned',
        ),
        migrations.RemoveIndex(
            model_name='conversation',
            name='conversation_archived',
        ),
        migrations.AddField(
            model_name='conversation',
            name='trashed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(condition=models.Q(('archived_at__isnull', True), ('pinned_at__isnull', True), ('trashed_at__isnull', True)), fields=['owner', '-updated', '-id'], name='conversation_listed'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(condition=models.Q(('pinned_at__isnull', False), ('trashed_at__isnull', True)), fields=['owner', '-pinned_at', '-id'], name='conversation_pinned'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(condition=models.Q(('archived_at__isnull', False), ('trashed_at__isnull', True)), fields=['owner', '-updated', '-id'], name='conversation_archived'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(condition=models.Q(('trashed_at__isnull', False)), fields=['owner', '-trashed_at', '-id'], name='conversation_trashed'),
        ),
    ]
