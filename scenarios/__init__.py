"""Locust behaviour only: the users that load the betting platform, and the load profiles
(``profiles.toml``). Importing this package is inert; the user modules import locust, so only
``locustfile.py`` (inside the Locust subprocess) imports them.
"""
