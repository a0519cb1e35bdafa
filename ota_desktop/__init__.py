"""OTA Desktop: the PySide6 application (see ota_desktop.__main__)."""

from .core import qtcompat as _qtcompat

_qtcompat.apply()
