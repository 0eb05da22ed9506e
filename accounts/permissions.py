from rest_framework.permissions import BasePermission

from .authentication import MISSING_KEY_MESSAGE, unauthorized
from .errors import ApiError
from .models import ApiKey


def require_scope(key: ApiKey, scope: str) -> None:
    """Raise the 403 naming ``scope`` unless ``key`` grants it."""
    if not key.has_scope(scope):
        raise ApiError(403, "forbidden", f"This API key lacks the required scope '{scope}'.")


class HasScope(BasePermission):
    """Requires an API key; if the view declares ``required_scope``, the key must grant it."""

    def has_permission(self, request, view):
        key = request.auth
        if not isinstance(key, ApiKey):
            raise unauthorized(MISSING_KEY_MESSAGE)
        scope = getattr(view, "required_scope", None)
        if scope:
            require_scope(key, scope)
        return True
