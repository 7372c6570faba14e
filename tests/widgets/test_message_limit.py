"""A widget's message limit stays within the site-wide one the socket's frame size is set for."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

pytestmark = pytest.mark.django_db


def test_a_widget_limit_above_the_site_wide_one_is_refused(widget, settings):
    settings.WEBCHAT_MAX_MESSAGE_CHARS = 5000
    widget.max_message_chars = 5001
    with pytest.raises(ValidationError) as refused:
        widget.full_clean()
    assert "At most 5,000 characters" in str(refused.value.message_dict["max_message_chars"])
    widget.max_message_chars = 5000
    widget.full_clean()


def test_the_frame_gives_its_composer_the_limit_it_will_be_held_to(client, widget, settings):
    settings.WEBCHAT_MAX_MESSAGE_CHARS = 1000
    widget.max_message_chars = 4000  # saved before the site-wide limit was lowered
    widget.save()
    page = client.get(f"/widget/{widget.public_key}/frame").content.decode()
    assert 'data-max-chars="1000"' in page and "maxlength" not in page
    widget.max_message_chars = 300
    widget.save()
    page = client.get(f"/widget/{widget.public_key}/frame").content.decode()
    assert 'data-max-chars="300"' in page
