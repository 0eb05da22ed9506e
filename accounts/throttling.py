from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, BaseThrottle

from . import limits
from .errors import ApiError
from .models import ApiKey


class KeyRateThrottle(BaseThrottle):
    """The key's own rate and burst (see accounts.limits); refusals are 429 with Retry-After."""

    def allow_request(self, request, view):
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        limits.check_rate(key)
        return True


class SandboxRateThrottle(AnonRateThrottle):
    """New sandbox keys per client address."""

    scope = "sandbox"

    def get_rate(self):
        return f"{settings.SANDBOX_KEYS_PER_HOUR}/hour"

    def allow_request(self, request, view):
        if super().allow_request(request, view):
            return True
        wait = self.wait() or 1
        raise ApiError(
            429, "rate_limit_exceeded",
            f"Too many sandbox keys from this address ({settings.SANDBOX_KEYS_PER_HOUR} per hour). "
            f"Retry after {int(wait)} s.",
            retry_after=wait,
        )
