"""The "dallage" entry of the QGIS browser: the server's offerings (each a WMTS layer to add) and its stored
data (pyramids, with the layers that serve them; an unpublished one can be published from its menu; raster
catalogs, with their footprints as an OGC API – Features layer and each item's COG read by ranges)."""
import urllib.parse

from qgis.core import QgsDataCollectionItem, QgsDataItem, QgsDataItemProvider, QgsDataProvider, QgsErrorItem, QgsLayerItem

from .client import DallageClient, DallageError
from .publish import publish_pyramid, wmts_layer_uri
from .settings import server_url

PYRAMID_TYPE = "ROK4-PYRAMID-RASTER"
CATALOG_TYPE = "RASTER-CATALOG"
# Items listed under a catalog: enough to pick from in a browser; the footprints layer holds them all.
CATALOG_ITEMS_LISTED = 100


def client():
    return DallageClient(server_url(), timeout=10)


def offerings(c):
    return c.get("/offerings", {"limit": 1000}).get("offerings", [])


def layer_item(parent, c, offering):
    name = offering["layer_name"]
    try:
        uri = wmts_layer_uri(c, name)
    except DallageError as err:
        return QgsErrorItem(parent, f"{name}: {err}", f"{parent.path()}/{offering['_id']}")
    return QgsLayerItem(parent, name, f"{parent.path()}/{offering['_id']}", uri, QgsLayerItem.Raster, "wms")


class OfferingsItem(QgsDataCollectionItem):
    def __init__(self, parent):
        super().__init__(parent, "Offerings", "dallage:/offerings", "dallage")

    def createChildren(self):  # noqa: N802 (QGIS API names)
        c = client()
        try:
            return [layer_item(self, c, o) for o in offerings(c)]
        except DallageError as err:
            return [QgsErrorItem(self, str(err), f"{self.path()}/error")]


def catalog_items(parent, c, name):
    """A catalog's layers: its footprints (OAPIF: the collection of the same name) and the COG of each item."""
    quoted = urllib.parse.quote(name, safe="")
    footprints = QgsLayerItem(
        parent, f"{name} footprints", f"{parent.path()}/footprints", f"url='{c.base_url}' typename='{name}'", QgsLayerItem.Vector, "OAPIF"
    )
    features = c.get(f"/collections/{quoted}/items", {"limit": CATALOG_ITEMS_LISTED}).get("features", [])
    cogs = []
    for feature in features:
        item = urllib.parse.quote(str(feature["id"]), safe="")
        uri = f"/vsicurl/{c.base_url}/collections/{quoted}/items/{item}/data"
        cogs.append(QgsLayerItem(parent, str(feature["id"]), f"{parent.path()}/items/{item}", uri, QgsLayerItem.Raster, "gdal"))
    return [footprints, *cogs]


class StoredDataItem(QgsDataCollectionItem):
    """One stored data: a pyramid's layers (the offerings that serve it), a catalog's footprints and COGs."""

    def __init__(self, parent, record):
        label = f"{record.get('name') or record['_id']} ({record.get('type', '?')})"
        super().__init__(parent, label, f"dallage:/stored_data/{record['_id']}", "dallage")
        self.record = record

    def createChildren(self):  # noqa: N802
        c = client()
        try:
            if self.record.get("type") == CATALOG_TYPE:
                return catalog_items(self, c, self.record["name"])
            serving = [o for o in offerings(c) if any(u.get("stored_data") == self.record["_id"] for u in o["served"]["used_data"])]
            return [layer_item(self, c, o) for o in serving]
        except DallageError as err:
            return [QgsErrorItem(self, str(err), f"{self.path()}/error")]

    def publish(self):
        """Publishes this pyramid (configuration + offering); returns the layer name."""
        layer_name, _ = publish_pyramid(client(), self.record)
        self.refresh()
        return layer_name

    def actions(self, parent):
        if self.record.get("type") != PYRAMID_TYPE:
            return []
        from qgis.PyQt.QtWidgets import QAction

        action = QAction("Publish as WMTS layer", parent)
        action.triggered.connect(self.publish)
        return [action]


class StoredDataListItem(QgsDataCollectionItem):
    def __init__(self, parent):
        super().__init__(parent, "Stored data", "dallage:/stored_data", "dallage")

    def createChildren(self):  # noqa: N802
        try:
            return [StoredDataItem(self, r) for r in client().stored_data()]
        except DallageError as err:
            return [QgsErrorItem(self, str(err), f"{self.path()}/error")]


class DallageRootItem(QgsDataCollectionItem):
    def __init__(self, parent):
        super().__init__(parent, "dallage", "dallage:", "dallage")
        self.setCapabilitiesV2(QgsDataItem.Fast)

    def createChildren(self):  # noqa: N802
        return [OfferingsItem(self), StoredDataListItem(self)]


class DallageDataItemProvider(QgsDataItemProvider):
    def name(self):
        return "dallage"

    def dataProviderKey(self):  # noqa: N802
        return "dallage"

    def capabilities(self):
        return QgsDataProvider.Net

    def createDataItem(self, path, parent):  # noqa: N802
        return DallageRootItem(parent) if not path else None
