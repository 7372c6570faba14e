"""Once made the roles; they are now kept by a post_migrate handler (administration/apps.py),
so that no migration imports live code. Kept, empty, for the migration history."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("administration", "0001_initial"),
        ("conversations", "0005_admin_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = []
