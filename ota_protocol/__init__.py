"""The OTA protocol, shared by the backend, the desktop and the device simulator.

Standard library only. ``codes``: every numeric code and its text; ``messages``: MQTT topics and
device messages (parsing with limits, building), the backend's side; ``device``: the device's side
(what a device publishes, parsing what it receives); ``task_options``: the task parameters with
their bounds and defaults. Nothing outside this package defines a protocol code.
"""

#: the product's one version (backend, desktop and simulator ship together)
__version__ = "0.1.0"
