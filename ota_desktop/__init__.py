"""OTA Desktop: the PySide6 application (see ota_desktop.__main__)."""

from ota_protocol import __version__ as __version__  # one version for the whole product

from .core import qtcompat as _qtcompat

_qtcompat.apply()
