"""`{{ url|safe_url }}`: a URL from upstream data, or "" when it may not be a link."""

from django import template

from conversations.rendering import safe_url as _safe_url

register = template.Library()


@register.filter
def safe_url(url) -> str:
    return _safe_url(url)
