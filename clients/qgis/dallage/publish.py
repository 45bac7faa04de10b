"""Publishing a pyramid through the platform's publication model (a WMTS-TMS configuration, then its offering),
and the QGIS layer URI of a published layer."""
import urllib.parse
import uuid

from .client import DallageError


def publish_pyramid(client, record):
    """Publishes stored data ``record``; returns (layer name, QGIS "wms" provider URI of its WMTS layer)."""
    base = "".join(c if c.isalnum() or c in "_-." else "_" for c in (record.get("name") or "pyramid"))
    layer_name = f"{base}-{uuid.uuid4().hex[:8]}"
    _, _, configuration = client.post(
        "/configurations",
        {
            "type": "WMTS-TMS",
            "name": layer_name,
            "layer_name": layer_name,
            "type_infos": {"title": record.get("name") or layer_name, "used_data": [{"stored_data": record["_id"]}]},
        },
    )
    client.post(f"/configurations/{configuration['_id']}/offerings", {"open": True})
    return layer_name, wmts_layer_uri(client, layer_name)


def wmts_layer_uri(client, layer_name):
    """The "wms" provider URI of a published layer: its tile matrix set, CRS and native format read from its
    OGC API – Tiles tile set, the tiles from the WMTS capabilities."""
    quoted = urllib.parse.quote(layer_name, safe="")
    tilesets = client.get(f"/collections/{quoted}/map/tiles").get("tilesets", [])
    if not tilesets:
        raise DallageError(f"layer '{layer_name}' has no tile set")
    self_link = next(link["href"] for link in tilesets[0]["links"] if link["rel"] == "self")
    tms = urllib.parse.unquote(self_link.rstrip("/").split("/")[-1])
    tileset = client.get(f"/collections/{quoted}/map/tiles/{urllib.parse.quote(tms, safe='')}")
    crs = epsg_code(tileset.get("crs", ""))
    mime = next((link["type"] for link in tileset.get("links", []) if link.get("rel") == "item"), "image/png")
    # The provider URI is key=value pairs joined by &: the capabilities URL's own = and & are escaped. QGIS
    # reads capabilities from its network cache whenever it has them (whatever their Cache-Control): a
    # capabilities URL of its own per layer makes it fetch the document that has the new layer.
    capabilities = f"{client.base_url}/wmts?SERVICE%3DWMTS%26REQUEST%3DGetCapabilities%26dallage_layer%3D{quoted}"
    return f"url={capabilities}&layers={layer_name}&tileMatrixSet={tms}&format={mime}&styles=normal&crs={crs}&dpiMode=7"


def epsg_code(uri):
    """http://www.opengis.net/def/crs/EPSG/0/3857 → EPSG:3857."""
    parts = uri.rstrip("/").split("/")
    if len(parts) >= 3 and parts[-3] in ("EPSG", "IGNF"):
        return f"{parts[-3]}:{parts[-1]}"
    raise DallageError(f"the layer's tile matrix set has a CRS QGIS is not given here: {uri}")
