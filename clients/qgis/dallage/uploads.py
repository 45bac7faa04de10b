"""Sending local rasters through the uploads API (a delivery): an upload is declared, its files are sent by PUT,
it is closed, and its checks are awaited. Used when the server cannot read the files by href (outside its input
roots: another machine)."""
import os
import pathlib
import time
import urllib.parse

from .client import DallageError

# World files and GDAL side-cars that give a TIFF its georeferencing (TIFF + TFW deliveries).
SIDECARS = (".tfw", ".tifw", ".wld", ".aux.xml", ".prj")
CHUNK = 1 << 20


def needs_upload(err, input_names):
    """True when the server refused a file href of one of ``input_names`` because it cannot read it there."""
    named = (err.input or "").split("[")[0]
    return err.status == 400 and named in input_names and "input roots" in str(err)


def deliver(client, name, files, srs, feedback, poll_s=0.5):
    """Sends ``files`` (paths) as one upload and waits for its checks; returns the CLOSED upload's id."""
    body = {"name": name, "description": "sent by the dallage QGIS plugin", "type": "RASTER"}
    if srs:
        body["srs"] = srs
    _, _, upload = client.post("/uploads", body)
    upload_id = upload["_id"]
    sent = set()
    for path in files:
        for f in [path, *sidecars(path)]:
            base = os.path.basename(f)
            if base in sent:
                raise DallageError(f"two files named {base}: an upload holds one file per name")
            sent.add(base)
            feedback.pushInfo(f"upload {upload_id}: sending {base} ({os.path.getsize(f)} bytes)")
            with open(f, "rb") as data:
                client.request("PUT", f"/uploads/{upload_id}/data", body=data.read(), query={"path": f"data/{base}"},
                               headers={"Content-Type": "application/octet-stream"})
    client.post(f"/uploads/{upload_id}/close", {})
    feedback.pushInfo(f"upload {upload_id}: closed, checks running")
    while True:
        state = client.get(f"/uploads/{urllib.parse.quote(upload_id)}")
        if state["status"] == "CLOSED":
            return upload_id
        if state["status"] not in ("CHECKING", "OPEN"):
            event = state.get("last_event", {}).get("title", "")
            raise DallageError(f"upload {upload_id} is {state['status']}: {event}")
        if feedback.isCanceled():
            raise DallageError(f"cancelled while upload {upload_id} was checked")
        time.sleep(poll_s)


def sidecars(path):
    p = pathlib.Path(path)
    found = []
    for ext in SIDECARS:
        for candidate in (p.with_suffix(ext), pathlib.Path(str(p) + ext)):
            if candidate.is_file() and str(candidate) not in found:
                found.append(str(candidate))
    return found
