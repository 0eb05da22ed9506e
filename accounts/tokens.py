"""Self-validating API key tokens.

A token is ``pyai_<env>_`` followed by a fixed-length body: the key's public id,
a random secret and a MAC over prefix, id and secret made with the server's
``API_KEY_SECRET``. A token that is malformed or whose MAC does not verify is
refused without a database read; a well-formed one is then loaded by id and its
secret compared, in constant time, with the stored hash.
"""

import base64
import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

from django.conf import settings

ENVS = ("live", "test")
PREFIXES = {env: f"pyai_{env}_" for env in ENVS}
ALPHABET = string.ascii_letters + string.digits
KEY_ID_LENGTH = 12  # public id, looked up in the database
SECRET_LENGTH = 32  # ~190 bits of randomness, stored only as a hash
MAC_LENGTH = 22  # 16 bytes of HMAC-SHA256, base64url without padding
BODY_LENGTH = KEY_ID_LENGTH + SECRET_LENGTH + MAC_LENGTH
MAX_TOKEN_LENGTH = 512
TOKEN_RE = re.compile(r"^pyai_(live|test)_([A-Za-z0-9_-]+)$")


@dataclass(frozen=True)
class ParsedToken:
    env: str
    key_id: str
    secret: str


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _mac(prefix: str, key_id: str, secret: str) -> str:
    digest = hmac.new(
        settings.API_KEY_SECRET.encode(), f"{prefix}{key_id}{secret}".encode(), hashlib.sha256
    ).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret (the secret is random, so a fast hash is enough)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key_id() -> str:
    return _random(KEY_ID_LENGTH)


def mint(env: str, key_id: str) -> tuple[str, str]:
    """Return ``(token, secret)`` for a new key; the token is shown once and never stored."""
    if env not in ENVS:
        raise ValueError(f"env must be one of {ENVS}")
    prefix = PREFIXES[env]
    secret = _random(SECRET_LENGTH)
    return f"{prefix}{key_id}{secret}{_mac(prefix, key_id, secret)}", secret


def parse(token: str) -> ParsedToken | None:
    """Return the token's parts if it is well-formed and its MAC verifies, else ``None``."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return None
    match = TOKEN_RE.match(token)
    if not match or len(match.group(2)) != BODY_LENGTH:
        return None
    env, body = match.groups()
    key_id = body[:KEY_ID_LENGTH]
    secret = body[KEY_ID_LENGTH : KEY_ID_LENGTH + SECRET_LENGTH]
    mac = body[KEY_ID_LENGTH + SECRET_LENGTH :]
    if not hmac.compare_digest(mac, _mac(PREFIXES[env], key_id, secret)):
        return None
    return ParsedToken(env=env, key_id=key_id, secret=secret)


def masked(token: str) -> str:
    """The display form kept for a key: ``pyai_live_AbCd…wxyz``."""
    env = token.split("_", 2)[1]
    body = token[len(PREFIXES[env]) :]
    return f"{PREFIXES[env]}{body[:4]}…{body[-4:]}"


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
