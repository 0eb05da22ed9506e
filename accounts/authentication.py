"""API key authentication, shared by the REST API and the stream socket."""

from rest_framework.authentication import BaseAuthentication

from . import tokens
from .errors import ApiError
from .models import ApiKey

BEARER = "bearer"
MISSING_KEY_MESSAGE = "Missing API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


def resolve_key(token: str, origin: str | None = None) -> ApiKey:
    """Return the active key behind ``token`` or raise the refusal.

    A malformed or forged token is refused before any database read.
    """
    parsed = tokens.parse(token)
    if parsed is None:
        raise unauthorized("Invalid API key.")
    key = ApiKey.objects.select_related("organization").filter(pk=parsed.key_id, env=parsed.env).first()
    if key is None or not tokens.constant_time_equal(key.secret_hash, tokens.hash_secret(parsed.secret)):
        raise unauthorized("Invalid API key.")
    if key.is_revoked:
        raise unauthorized("This API key has been revoked.")
    if not key.origin_allowed(origin):
        shown = repr(origin) if origin else "(no Origin header)"
        raise ApiError(403, "origin_not_allowed", f"Origin {shown} is not allowed for this API key.")
    key.touch()
    return key


def token_from_headers(meta) -> str | None:
    """The token from ``Authorization: Bearer`` or ``x-api-key``; ``None`` if neither was sent."""
    header = meta.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _sep, value = header.partition(" ")
        if scheme.lower() != BEARER or not value.strip():
            raise unauthorized("Malformed Authorization header. Use 'Authorization: Bearer <key>'.")
        return value.strip()
    value = meta.get("HTTP_X_API_KEY")
    if value is not None:
        if not value.strip():
            raise unauthorized("Empty x-api-key header.")
        return value.strip()
    return None


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>`` or ``x-api-key: <key>``; ``request.auth`` is the ApiKey."""

    def authenticate(self, request):
        token = token_from_headers(request.META)
        if token is None:
            return None
        key = resolve_key(token, request.META.get("HTTP_ORIGIN"))
        return (None, key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
