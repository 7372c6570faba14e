"""Webchat's pages and the Django admin's, in Chromium, under the strict Content-Security-Policy:
every page works with no refusal in the console (the `browser_console` fixture fails the test on
any console error), and a script the policy does not allow does not run."""

from __future__ import annotations

from playwright.sync_api import Page, expect

PASSWORD = "csp-password-1"


def test_the_app_and_the_admin_work_under_the_policy(page: Page, live_webchat, browser_console):
    made = live_webchat.manage(
        "shell", "-c",
        "from django.contrib.auth.models import User; from conversations.models import "
        "Conversation, Message; from conversations.rendering import render_markdown; "
        f"u = User.objects.create_superuser('cspadmin', password={PASSWORD!r}); "
        "c = Conversation.objects.create(owner=u, provider='mistral', model='mistral-small-latest',"
        " title='Aligned', titled=True); t = '| a | b |\\n|:-:|--:|\\n| 1 | 2 |'; "
        "Message.objects.create(conversation=c, role='user', text='table?', html='<p>table?</p>');"
        " Message.objects.create(conversation=c, role='assistant', text=t, html=render_markdown(t),"
        " parts=[{'kind': 'citation', 'title': 'Evil', 'url': 'javascript:window.pwned=1'}]); "
        "print(c.pk, u.pk)",
    ).split()  # fmt: skip
    conversation, user = made[-2], made[-1]
    page.goto(f"{live_webchat.url}/accounts/login/")
    page.get_by_label("Username").fill("cspadmin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    opened = page.goto(f"{live_webchat.url}/conversations/{conversation}/")
    assert "script-src 'self';" in opened.headers["content-security-policy"]
    expect(page.locator("#connection")).to_have_text("")
    cell = page.locator(".reply td.align-right")
    expect(cell).to_have_css("text-align", "right")  # a class: the policy refuses style=""
    page.get_by_text("Evil").click()
    assert page.evaluate("window.pwned") is None
    # No inline handler is left: Dismiss on a flash works through chat.js.
    page.evaluate("htmx.ajax('POST', '/conversations/new', {target: '#pane'})")
    flash = page.locator(".flash-message")
    expect(flash).to_be_visible()
    flash.get_by_role("button", name="Dismiss").click()
    expect(flash).to_have_count(0)
    page.goto(f"{live_webchat.url}/status")
    expect(page.get_by_role("heading", name="Webchat is up")).to_be_visible()

    admin = f"{live_webchat.url}/admin"
    for path in (
        "/",
        "/conversations/conversation/",
        f"/conversations/conversation/{conversation}/change/",
        "/conversations/dailyusage/",
        "/administration/tombstone/",  # no actions: Django's inline <style>, overridden
        "/administration/auditentry/",
        "/auth/user/",
        f"/auth/user/{user}/change/",  # date and time widgets (calendar.js)
        "/auth/group/add/",  # the two-list permission picker (SelectFilter2.js)
    ):
        page.goto(admin + path)
        expect(page.locator("#content")).to_be_visible()
    # Admin scripts ran: the calendar's shortcuts were added next to the date field.
    page.goto(f"{admin}/auth/user/{user}/change/")
    expect(page.locator(".datetimeshortcuts").first).to_be_visible()
    page.goto(f"{admin}/auth/group/add/")
    expect(page.locator(".selector-filter").first).to_be_visible()
    assert browser_console.unexpected() == []
