"""Tombstones keep no title: what a deleted conversation was about is deleted with it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("administration", "0002_roles")]

    operations = [migrations.RemoveField(model_name="tombstone", name="title")]
