"""QGIS processing parameters generated from OGC process descriptions (OGC 18-062r2 §7.11.2, input schemas).

Each input becomes one parameter of the same name; what cannot be mapped onto a QGIS widget stays a JSON text
parameter (never dropped), so every process can still be run.
"""
import json

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

UNBOUNDED = "unbounded"


def is_binary(schema):
    """A file input (raster): binary string content."""
    return schema.get("type") == "string" and (schema.get("format") == "binary" or "contentMediaType" in schema)


def is_stored_data(schema):
    """A stored data id, or a choice whose branches are one (or a one-item array of them, as the platform sends)."""
    if schema.get("type") == "string" and schema.get("format") == "ogc-stored-data":
        return True
    branches = schema.get("oneOf") or schema.get("anyOf") or []
    return any(is_stored_data(b) or is_stored_data(b.get("items", {})) for b in branches) and all(
        is_stored_data(b) or (b.get("type") == "array" and is_stored_data(b.get("items", {}))) for b in branches
    )


def is_bbox(schema):
    return schema.get("format") == "ogc-bbox"


def is_many(spec):
    return spec.get("maxOccurs") == UNBOUNDED or (isinstance(spec.get("maxOccurs"), int) and spec["maxOccurs"] > 1)


class InputMapping:
    """How one input of a process is asked in QGIS and turned back into the execute request's value."""

    def __init__(self, name, spec, kind, options=None):
        self.name = name
        self.spec = spec
        self.kind = kind  # raster, rasters, enum, enums, stored_data, bbox, boolean, integer, number, string, json
        self.options = options or []
        self.optional = spec.get("minOccurs", 1) == 0

    @property
    def schema(self):
        return self.spec.get("schema", {})

    def description(self):
        title = self.spec.get("title") or self.name
        return title if title.lower() == self.name.lower() else f"{title} ({self.name})"


def map_input(name, spec, stored_data=None):
    """The InputMapping of one input; ``stored_data`` lists the server's READY stored data for their inputs."""
    schema = spec.get("schema", {})
    many = is_many(spec)
    if is_binary(schema):
        return InputMapping(name, spec, "rasters" if many else "raster")
    if is_stored_data(schema):
        options = [(s.get("name") or s["_id"], s["_id"]) for s in (stored_data or [])]
        return InputMapping(name, spec, "stored_data", options)
    if is_bbox(schema):
        return InputMapping(name, spec, "bbox")
    if "enum" in schema and schema.get("type") in ("string", "integer", "number"):
        return InputMapping(name, spec, "enums" if many else "enum", list(schema["enum"]))
    if not many:
        t = schema.get("type")
        if t == "boolean":
            return InputMapping(name, spec, "boolean")
        if t in ("integer", "number"):
            return InputMapping(name, spec, t)
        if t == "string":
            return InputMapping(name, spec, "string")
    return InputMapping(name, spec, "json")


def qgis_parameter(m):
    """The QgsProcessingParameterDefinition of an InputMapping."""
    s = m.schema
    label = m.description()
    if m.kind == "raster":
        p = QgsProcessingParameterRasterLayer(m.name, label, optional=m.optional)
    elif m.kind == "rasters":
        p = QgsProcessingParameterMultipleLayers(m.name, label, QgsProcessing.TypeRaster, optional=m.optional)
    elif m.kind == "stored_data":
        labels = [f"{n} ({i})" for n, i in m.options]
        p = QgsProcessingParameterEnum(m.name, label, labels, allowMultiple=is_many(m.spec), optional=m.optional)
    elif m.kind in ("enum", "enums"):
        default = m.options.index(s["default"]) if s.get("default") in m.options else None
        p = QgsProcessingParameterEnum(
            m.name, label, [str(o) for o in m.options], allowMultiple=m.kind == "enums", defaultValue=default, optional=m.optional
        )
    elif m.kind == "bbox":
        p = QgsProcessingParameterExtent(m.name, label, optional=m.optional)
    elif m.kind == "boolean":
        p = QgsProcessingParameterBoolean(m.name, label, defaultValue=s.get("default", False), optional=m.optional)
    elif m.kind in ("integer", "number"):
        number_type = QgsProcessingParameterNumber.Integer if m.kind == "integer" else QgsProcessingParameterNumber.Double
        p = QgsProcessingParameterNumber(m.name, label, number_type, defaultValue=s.get("default"), optional=m.optional)
        if "minimum" in s:
            p.setMinimum(s["minimum"])
        if "maximum" in s:
            p.setMaximum(s["maximum"])
    elif m.kind == "string":
        p = QgsProcessingParameterString(m.name, label, defaultValue=s.get("default"), optional=m.optional)
    else:
        # Arrays, objects, oneOf...: the value as JSON text, parsed when the process runs.
        default = json.dumps(s["default"]) if "default" in s else None
        p = QgsProcessingParameterString(m.name, f"{label} [JSON]", defaultValue=default, multiLine=True, optional=m.optional)
    help_text = m.spec.get("description")
    if help_text:
        p.setHelp(help_text)
    return p
