"""Where the dallage server is.

The URL is the QgsSettings key ``dallage/url``; the environment variable ``DALLAGE_SERVER_URL`` overrides it,
so that scripts and ``qgis_process`` can point the plugin at a server without touching a profile.
"""
import os

from qgis.core import QgsSettings

SETTINGS_KEY = "dallage/url"
DEFAULT_URL = "http://127.0.0.1:5000"


def server_url():
    """The server's base URL, without a trailing slash."""
    url = os.environ.get("DALLAGE_SERVER_URL") or QgsSettings().value(SETTINGS_KEY, DEFAULT_URL, type=str)
    return (url or DEFAULT_URL).rstrip("/")


def set_server_url(url):
    QgsSettings().setValue(SETTINGS_KEY, url.rstrip("/"))
