"""dallage: a QGIS processing provider for a dallage OGC API - Processes server."""


def classFactory(iface):  # noqa: N802 (QGIS's plugin entry point)
    from .plugin import DallagePlugin

    return DallagePlugin(iface)
