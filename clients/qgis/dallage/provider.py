"""The "dallage" processing provider: one algorithm per process the server offers."""
from qgis.core import Qgis, QgsMessageLog, QgsProcessingProvider

from .algorithm import DallageAlgorithm
from .client import DallageClient, DallageError
from .settings import server_url


class DallageProvider(QgsProcessingProvider):
    def id(self):
        return "dallage"

    def name(self):
        return "dallage"

    def longName(self):  # noqa: N802 (QGIS API names)
        return f"dallage ({server_url()})"

    def loadAlgorithms(self):  # noqa: N802
        """Reads /processes; a server that cannot be reached leaves the provider empty and says why in the log."""
        client = DallageClient(server_url(), timeout=10)
        try:
            descriptions = client.processes()
            stored = client.stored_data()
        except DallageError as err:
            QgsMessageLog.logMessage(f"no dallage algorithms: {err}", "dallage", Qgis.Warning)
            return
        for description in descriptions:
            self.addAlgorithm(DallageAlgorithm(description, stored))
