"""One dallage process as a QGIS processing algorithm.

Runs the process asynchronously (OGC 18-062r2 §7.11.4, ``Prefer: respond-async``), follows the job's status
(progress and message into the feedback), dismisses the job when the user cancels (§13: DELETE /jobs/{id}), and
returns the job's results. A pyramid result can be published (configuration + offering) and its WMTS layer
added to the project.
"""
import json
import pathlib
import time
import urllib.parse
import urllib.request

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputString,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsRasterLayer,
    QgsVectorLayer,
)

from .client import DallageClient, DallageError
from .parameters import map_input, qgis_parameter
from .publish import publish_pyramid
from .settings import server_url
from .uploads import deliver, needs_upload

# How often the job's status is read; progress shows within this delay.
POLL_S = 0.3


class DallageAlgorithm(QgsProcessingAlgorithm):
    def __init__(self, description, stored_data=None):
        super().__init__()
        self.process = description
        self.stored_data = stored_data or []
        self.inputs = [map_input(name, spec, self.stored_data) for name, spec in description.get("inputs", {}).items()]
        outputs = description.get("outputs", {})
        # A process whose output is a pyramid record can publish it.
        self.makes_pyramid = "pyramid" in outputs
        # A process whose outputs are catalog items and a summary naming the catalog (tiling) can show them.
        self.makes_catalog = "items" in outputs and "summary" in outputs
        # A process with an `upload` input reads deliveries: files the server cannot see are sent as one.
        self.takes_uploads = "upload" in description.get("inputs", {})

    def createInstance(self):  # noqa: N802 (QGIS API names)
        return DallageAlgorithm(self.process, self.stored_data)

    def name(self):
        return self.process["id"]

    def displayName(self):  # noqa: N802
        return self.process.get("title") or self.process["id"]

    def shortHelpString(self):  # noqa: N802
        return self.process.get("description", "")

    def tags(self):
        return self.process.get("keywords", [])

    def initAlgorithm(self, config=None):  # noqa: N802
        for m in self.inputs:
            self.addParameter(qgis_parameter(m))
        if self.makes_pyramid:
            self.addParameter(
                QgsProcessingParameterBoolean("PUBLISH", "Publish the pyramid and add its WMTS layer to the map", defaultValue=False)
            )
            self.addOutput(QgsProcessingOutputRasterLayer("LAYER", "Published layer"))
        if self.makes_catalog:
            self.addParameter(
                QgsProcessingParameterBoolean(
                    "LOAD_CATALOG", "Add the catalog's footprints (OGC API – Features) and the new COGs to the map", defaultValue=False
                )
            )
            self.addOutput(QgsProcessingOutputVectorLayer("FOOTPRINTS", "Catalog footprints"))
            self.addOutput(QgsProcessingOutputMultipleLayers("COGS", "Cloud Optimized GeoTIFFs"))
        self.addOutput(QgsProcessingOutputString("JOB_ID", "Job id"))
        self.addOutput(QgsProcessingOutputString("RESULTS", "Results (JSON)"))

    # ------------------------------------------------------------------ run
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        client = DallageClient(server_url())
        inputs = {}
        for m in self.inputs:
            value = self.input_value(m, parameters, context)
            if value is not None:
                inputs[m.name] = value
        try:
            try:
                job_id = self.submit(client, inputs, feedback)
            except DallageError as err:
                rasters = [m.name for m in self.inputs if m.kind in ("raster", "rasters") and m.name in inputs]
                if not (self.takes_uploads and needs_upload(err, rasters)):
                    raise
                # The server cannot read the files where they are: they travel as a delivery instead.
                feedback.pushInfo(f"the server cannot read the files by href ({err}): sending them as an upload")
                files = [file_path(v["href"]) for name in rasters for v in as_list(inputs.pop(name))]
                srs = self.layers_srs(parameters, context, rasters)
                upload_id = deliver(client, f"qgis-{self.name()}-{int(time.time())}", files, srs, feedback)
                inputs["upload"] = [upload_id]
                job_id = self.submit(client, inputs, feedback)
            results = self.follow(client, job_id, feedback)
        except DallageError as err:
            raise QgsProcessingException(self.explain(err)) from None
        out = {"JOB_ID": job_id, "RESULTS": json.dumps(results)}
        if self.makes_pyramid:
            out["LAYER"] = None
            record = results.get("pyramid") if isinstance(results, dict) else None
            if self.parameterAsBoolean(parameters, "PUBLISH", context) and isinstance(record, dict):
                out["LAYER"] = self.publish(client, record, context, feedback)
        if self.makes_catalog:
            out["FOOTPRINTS"], out["COGS"] = None, []
            if self.parameterAsBoolean(parameters, "LOAD_CATALOG", context) and isinstance(results, dict):
                out["FOOTPRINTS"], out["COGS"] = self.load_catalog(client, results, context, feedback)
        return out

    def input_value(self, m, parameters, context):
        """The execute request's value of one input, or None when it is not given."""
        given = parameters.get(m.name)
        if m.kind == "raster":
            layer = self.parameterAsRasterLayer(parameters, m.name, context)
            return {"href": file_href(layer, m.name)} if layer else None
        if m.kind == "rasters":
            layers = self.parameterAsLayerList(parameters, m.name, context)
            return [{"href": file_href(layer, m.name)} for layer in layers] or None
        if given is None or given == "":
            return None
        if m.kind == "stored_data":
            ids = [i for _, i in m.options]
            if m.spec.get("maxOccurs", 1) != 1:
                return [ids[k] for k in self.parameterAsEnums(parameters, m.name, context)]
            return ids[self.parameterAsEnum(parameters, m.name, context)]
        if m.kind == "enum":
            return m.options[self.parameterAsEnum(parameters, m.name, context)]
        if m.kind == "enums":
            return [m.options[k] for k in self.parameterAsEnums(parameters, m.name, context)]
        if m.kind == "bbox":
            extent = self.parameterAsExtent(parameters, m.name, context)
            crs = self.parameterAsExtentCrs(parameters, m.name, context)
            value = {"bbox": [extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()]}
            if crs.isValid() and crs.authid().startswith("EPSG:"):
                value["crs"] = "http://www.opengis.net/def/crs/EPSG/0/" + crs.authid().split(":")[1]
            return value
        if m.kind == "boolean":
            return self.parameterAsBoolean(parameters, m.name, context)
        if m.kind == "integer":
            return self.parameterAsInt(parameters, m.name, context)
        if m.kind == "number":
            return self.parameterAsDouble(parameters, m.name, context)
        text = self.parameterAsString(parameters, m.name, context)
        if m.kind == "string":
            return text
        try:
            return json.loads(text)
        except ValueError as err:
            raise QgsProcessingException(f"input '{m.name}': not valid JSON ({err})") from None

    def submit(self, client, inputs, feedback):
        path = "/processes/" + urllib.parse.quote(self.name(), safe="") + "/execution"
        # A results document (18-062r2 §7.11.4): every output under its id, whatever their number.
        request = {"inputs": inputs, "response": "document"}
        status, headers, body = client.post(path, request, headers={"Prefer": "respond-async"})
        job_id = (body or {}).get("jobID")
        if not job_id:
            raise DallageError(f"the server did not start a job (HTTP {status})")
        feedback.pushInfo(f"job {job_id} accepted by {client.base_url}")
        return job_id

    def follow(self, client, job_id, feedback):
        """Waits for the job, reporting its progress; dismisses it when the user cancels."""
        last_message = None
        while True:
            if feedback.isCanceled():
                client.delete(f"/jobs/{job_id}")
                feedback.pushInfo(f"job {job_id} dismissed")
                raise QgsProcessingException(f"cancelled: job {job_id} dismissed")
            status = client.get(f"/jobs/{job_id}")
            if isinstance(status.get("progress"), (int, float)):
                feedback.setProgress(status["progress"])
            message = status.get("message")
            if message and message != last_message:
                feedback.pushInfo(message)
                last_message = message
            state = status.get("status")
            if state == "successful":
                return {k: unwrap(v) for k, v in (client.get(f"/jobs/{job_id}/results") or {}).items()}
            if state in ("failed", "dismissed"):
                try:
                    client.get(f"/jobs/{job_id}/results")
                except DallageError as err:
                    raise QgsProcessingException(self.explain(err)) from None
                raise QgsProcessingException(f"job {job_id} {state}: {message or ''}")
            time.sleep(POLL_S)

    def layers_srs(self, parameters, context, names):
        """The CRS of the raster layers given (the upload's srs, for TIFF + world file deliveries)."""
        for name in names:
            for layer in self.parameterAsLayerList(parameters, name, context) or []:
                if layer.crs().isValid() and layer.crs().authid():
                    return layer.crs().authid()
        return None

    def explain(self, err):
        named = f" (input '{err.input}')" if err.input and f"'{err.input}'" not in str(err) else ""
        return f"{self.name()}: {err}{named}"

    def publish(self, client, record, context, feedback):
        """Publishes a READY pyramid and hands its WMTS layer to the project; returns the layer id."""
        try:
            layer_name, uri = publish_pyramid(client, record)
        except DallageError as err:
            raise QgsProcessingException(self.explain(err)) from None
        layer = QgsRasterLayer(uri, layer_name, "wms")
        if not layer.isValid():
            raise QgsProcessingException(f"the published layer '{layer_name}' cannot be opened: {layer.error().summary()}")
        feedback.pushInfo(f"published as WMTS layer '{layer_name}'")
        self.load_on_completion(layer, context, "LAYER")
        return layer.id()

    def load_catalog(self, client, results, context, feedback):
        """The catalog's footprints as an OGC API – Features layer and each new COG read by ranges (/vsicurl/)."""
        name = (results.get("summary") or {}).get("catalog", {}).get("name")
        if not name:
            raise QgsProcessingException("the results name no catalog")
        quoted = urllib.parse.quote(name, safe="")
        footprints = QgsVectorLayer(f"url='{client.base_url}' typename='{name}'", f"{name} footprints", "OAPIF")
        if not footprints.isValid():
            raise QgsProcessingException(f"the catalog '{name}' cannot be opened as OGC API – Features: {footprints.error().summary()}")
        self.load_on_completion(footprints, context, "FOOTPRINTS")
        cogs = []
        for item in results.get("items") or []:
            item_id = urllib.parse.quote(str(item["id"]), safe="")
            cog = QgsRasterLayer(f"/vsicurl/{client.base_url}/collections/{quoted}/items/{item_id}/data", str(item["id"]), "gdal")
            if not cog.isValid():
                feedback.reportError(f"COG of item {item['id']} cannot be read: {cog.error().summary()}")
                continue
            self.load_on_completion(cog, context, "COGS")
            cogs.append(cog.id())
        feedback.pushInfo(f"catalog '{name}': footprints and {len(cogs)} COG(s) added")
        return footprints.id(), cogs

    @staticmethod
    def load_on_completion(layer, context, output):
        context.temporaryLayerStore().addMapLayer(layer)
        context.addLayerToLoadOnCompletion(layer.id(), QgsProcessingContext.LayerDetails(layer.name(), context.project(), output))


def as_list(value):
    return value if isinstance(value, list) else [value]


def file_path(href):
    return urllib.request.url2pathname(urllib.parse.urlparse(href).path)


def unwrap(output):
    """An output of a results document: a qualified value {value, mediaType} is its value; a link stays a link."""
    if isinstance(output, dict) and "value" in output and set(output) <= {"value", "mediaType", "encoding", "schema"}:
        return output["value"]
    return output


def file_href(layer, name):
    """A raster layer as a file: href (the server reads it under its input roots)."""
    source = layer.source().split("|")[0]
    path = pathlib.Path(source)
    if not path.is_file():
        raise QgsProcessingException(f"input '{name}': layer '{layer.name()}' is not a local file ({source})")
    return path.resolve().as_uri()
