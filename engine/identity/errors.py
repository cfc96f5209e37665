"""Identity errors beyond engine.errors."""

from __future__ import annotations

from engine.errors import AuthenticationFailed


class LoginThrottled(AuthenticationFailed):
    """Too many failed sign-ins for this user or address; `retry_after` is in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after
