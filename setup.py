"""What pyproject.toml cannot say: the packages, with templates/, static/ and locale/ inside.

Those three folders stay at the top of the checkout (the README's layout). The wheel carries them
as webchat/templates, webchat/static and webchat/locale, and webchat/settings.py looks there first,
then beside the apps. Every app is found here: a new one needs no edit (tests/test_packaging.py).
"""

from setuptools import find_packages, setup

APPS = ["webchat", "conversations", "sharing", "administration", "widgets", "upstream", "emulator"]
SHIPPED = {f"webchat.{folder}": folder for folder in ("templates", "static", "locale")}

setup(
    packages=find_packages(include=[pattern for app in APPS for pattern in (app, f"{app}.*")])
    + list(SHIPPED),
    package_dir=SHIPPED,
    package_data={
        # The apps' own templates and static files (administration, widgets).
        "": ["templates/**/*", "static/**/*"],
        **{package: ["**/*"] for package in SHIPPED},
    },
)
