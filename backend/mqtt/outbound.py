"""The OTA rules' outbound port over MQTT: upgrade orders and progress acknowledgements become
the protocol's messages on the devices' down topics."""

from __future__ import annotations

from collections.abc import Callable

from ota_protocol import messages as wire

from ..ota.ports import ProgressAck, UpgradeOrder


class MqttOutbound:
    def __init__(self, publish: Callable[[str, bytes], object]) -> None:  # its result is not used
        self._publish = publish

    def push(self, order: UpgradeOrder) -> None:
        payload = wire.upgrade_push(
            client_token=order.client_token, record_id=order.record_id, is_diff=order.is_diff,
            sign_method=order.sign_method, version=order.version, timestamp=order.timestamp,
            files=[wire.PushFile(f.name, f.signature, f.size, f.url) for f in order.files])
        self._publish(wire.topic_down_upgrade(order.product_id, order.device_name), payload)

    def ack(self, ack: ProgressAck) -> None:
        payload = wire.progress_reply(ack.client_token, code=ack.code, status=ack.status, timestamp=ack.timestamp)
        self._publish(wire.topic_down_progress(ack.product_id, ack.device_name), payload)
