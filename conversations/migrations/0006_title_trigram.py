"""PostgreSQL: a trigram index for the admin's title search (`title__icontains`).

Django compiles icontains to `UPPER("title"::text) LIKE UPPER(...)`, so the index is on that
expression. pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it.
SQLite has no equivalent; this migration does nothing there.
"""

from django.db import migrations

INDEX = "conversation_title_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON conversations_conversation "
            'USING gin ((UPPER("title"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0005_admin_permissions")]
    operations = [migrations.RunPython(create, drop)]
