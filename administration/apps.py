from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db import router
from django.db.models.signals import post_migrate


class AdministrationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "administration"
    verbose_name = "Administration"

    def ready(self):
        # The roles are kept in step with administration/roles.py after every migrate (and
        # every test flush), rather than made once by a migration importing live code.
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="administration.roles")
        # Every delete of a conversation (sidebar, admin, retention, erasure) leaves a
        # tombstone and an audit row, written here: conversations may not import us.
        from administration.deletion import keep_record
        from conversations.deletion import keep_record_with

        keep_record_with(keep_record)
        # A provider fetching a document through its signed link is audited too.
        from administration.audit import record_file_link
        from conversations.attachments import file_link_fetched

        file_link_fetched.connect(record_file_link, dispatch_uid="administration.file_link")


def _sync_roles(sender, using, apps=global_apps, **kwargs):
    # As Django's own create_permissions: only once auth's tables are there, on this database.
    try:
        group = apps.get_model("auth", "Group")
    except LookupError:
        return
    if not router.allow_migrate_model(using, group):
        return
    from administration.roles import sync_roles

    sync_roles(using=using)
