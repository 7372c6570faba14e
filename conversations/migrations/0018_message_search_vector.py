"""PostgreSQL: each message's full-text vector, stored, with a GIN index on it.

Search inside a person's messages (conversations/message_search.py) checks the vector of many
rows: a phrase's positions are rechecked row by row, and common words are matched
conversation by conversation. Recomputing `to_tsvector` for each (the expression index of
0003 can only find rows) took seconds at 200,000 messages; a stored column is read instead.
Adding the column rewrites the table once. SQLite searches with LIKE: nothing happens there.
"""

from django.db import migrations

COLUMN = "search_vector"
INDEX = "message_search_vector"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f'ALTER TABLE "conversations_message" ADD COLUMN IF NOT EXISTS {COLUMN} tsvector'
        " GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, COALESCE(\"text\", ''))) STORED"
    )
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS {INDEX} ON "conversations_message" USING gin ({COLUMN})'
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
    schema_editor.execute(f'ALTER TABLE "conversations_message" DROP COLUMN IF EXISTS {COLUMN}')


class Migration(migrations.Migration):
    dependencies = [("conversations", "0017_trash")]
    operations = [migrations.RunPython(create, drop)]
