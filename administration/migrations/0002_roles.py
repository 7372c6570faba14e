"""The two roles besides superusers, as groups with admin permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    # Read conversations and transcripts; no export, delete or change.
    "Transcript reviewers": [
        ("conversations", "view_conversation"),
        ("conversations", "view_transcript"),
    ],
    # Usage and its export, retention; never a transcript or a conversation list.
    "Operators": [
        ("conversations", "view_dailyusage"),
        ("conversations", "export_dailyusage"),
        ("conversations", "purge_conversation"),
        ("administration", "view_tombstone"),
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are made after migrations run; roles need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [
                Permission.objects.get(content_type__app_label=app, codename=codename)
                for app, codename in codenames
            ]
        )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("administration", "0001_initial"),
        ("conversations", "0005_admin_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
