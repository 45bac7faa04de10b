"""The plugin: registers the provider; in the desktop, a menu entry sets the server URL and tests it."""
from qgis.core import QgsApplication

from .browser import DallageDataItemProvider
from .client import DallageError, test_connection
from .provider import DallageProvider
from .settings import server_url, set_server_url


class DallagePlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.browser = None
        self.action = None

    def initProcessing(self):  # noqa: N802 (QGIS API names)
        if self.provider is None:
            self.provider = DallageProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802
        self.initProcessing()
        if self.browser is None:
            self.browser = DallageDataItemProvider()
            QgsApplication.dataItemProviderRegistry().addProvider(self.browser)
        if self.iface is None:
            return
        from qgis.PyQt.QtWidgets import QAction

        self.action = QAction("Server settings…", self.iface.mainWindow())
        self.action.triggered.connect(self.settings_dialog)
        self.iface.addPluginToMenu("dallage", self.action)

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
        if self.browser is not None:
            QgsApplication.dataItemProviderRegistry().removeProvider(self.browser)
        if self.action is not None and self.iface is not None:
            self.iface.removePluginMenu("dallage", self.action)

    def settings_dialog(self):
        """Asks the server URL, tests it on /conformance, keeps it and reloads the algorithms."""
        from qgis.PyQt.QtWidgets import QInputDialog, QMessageBox

        parent = self.iface.mainWindow()
        url, ok = QInputDialog.getText(parent, "dallage", "Server URL:", text=server_url())
        if not ok or not url:
            return
        try:
            report = test_connection(url)
        except DallageError as err:
            QMessageBox.warning(parent, "dallage", f"Test connection failed: {err}")
            return
        set_server_url(url)
        self.provider.refreshAlgorithms()
        QMessageBox.information(parent, "dallage", f"Test connection: {report}")
