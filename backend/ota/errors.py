"""The one error type the OTA rules raise; the API turns it into the envelope as-is."""


class RuleError(Exception):
    def __init__(self, http_status: int, code: int, msg: str):
        super().__init__(msg)
        self.http_status, self.code, self.msg = http_status, int(code), msg
