"""PostgreSQL: a GIN index for the admin's full-text search over message text.

The expression is exactly what `SearchVector("text", config="simple")` compiles to, so the
planner uses the index for `Message.objects.filter(search=...)`-style lookups. SQLite has no
equivalent and searches with LIKE, so this migration does nothing there.
"""

from django.db import migrations

INDEX = "message_text_search"
EXPRESSION = "to_tsvector('simple'::regconfig, COALESCE(\"text\", ''))"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {INDEX} ON "conversations_message" USING gin ({EXPRESSION})'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0002_admin_counters")]
    operations = [migrations.RunPython(create, drop)]
