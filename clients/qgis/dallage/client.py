"""A small HTTP client of the dallage API (OGC API - Processes, stored data, publication, uploads).

urllib keeps the plugin free of dependencies QGIS does not ship. Every failure becomes a DallageError whose
message is what a user can act on: the server unreachable (with the URL), or the server's problem document
(RFC 7807) with the input it names.
"""
import json
import urllib.error
import urllib.parse
import urllib.request

# A status or job page answers at once; a synchronous execution is never asked (jobs run asynchronously).
TIMEOUT_S = 30


class DallageError(Exception):
    """A request that failed: ``status`` (None when the server was not reached), ``problem`` (its JSON)."""

    def __init__(self, message, status=None, problem=None):
        super().__init__(message)
        self.status = status
        self.problem = problem or {}

    @property
    def input(self):
        """The input the server's problem names, if any."""
        return self.problem.get("input")


class DallageClient:
    def __init__(self, base_url, timeout=TIMEOUT_S):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def url(self, path, query=None):
        u = self.base_url + path
        return u + ("?" + urllib.parse.urlencode(query) if query else "")

    def request(self, method, path, body=None, headers=None, query=None, raw=False):
        """Sends a request; returns (status, headers, parsed JSON or bytes)."""
        data = None
        h = {"Accept": "application/json"}
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            else:
                data = json.dumps(body).encode("utf-8")
                h["Content-Type"] = "application/json"
        h.update(headers or {})
        req = urllib.request.Request(self.url(path, query), data=data, headers=h, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                payload = res.read()
                return res.status, dict(res.headers), payload if raw else _json(payload)
        except urllib.error.HTTPError as err:
            payload = err.read()
            problem = _json(payload)
            problem = problem if isinstance(problem, dict) else {}
            detail = problem.get("detail") or problem.get("title") or payload[:300].decode("utf-8", "replace")
            raise DallageError(f"{method} {path}: {err.code} {detail}", err.code, problem) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise DallageError(f"cannot reach the dallage server at {self.base_url}: {reason}") from None

    def get(self, path, query=None):
        return self.request("GET", path, query=query)[2]

    def post(self, path, body, headers=None):
        return self.request("POST", path, body=body, headers=headers)

    def delete(self, path):
        return self.request("DELETE", path)[2]

    def processes(self):
        """Every process description (the list, then each one in full)."""
        listing = self.get("/processes", {"limit": 1000})
        return [self.get("/processes/" + urllib.parse.quote(p["id"], safe="")) for p in listing.get("processes", [])]

    def stored_data(self):
        return self.get("/stored_data", {"status": "READY"}).get("stored_data", [])


def test_connection(base_url):
    """Reads /conformance; returns a one-line report, or raises DallageError."""
    conformance = DallageClient(base_url, timeout=10).get("/conformance")
    classes = conformance.get("conformsTo", [])
    core = any(c.endswith("/ogcapi-processes-1/1.0/conf/core") for c in classes)
    if not core:
        raise DallageError(f"{base_url} answers /conformance but not as an OGC API - Processes server")
    return f"{base_url}: OGC API - Processes server, {len(classes)} conformance classes"


def _json(payload):
    try:
        return json.loads(payload.decode("utf-8")) if payload else None
    except (UnicodeDecodeError, ValueError):
        return None
