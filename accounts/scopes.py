"""The scope catalog and wildcard matching."""

SCOPES = {
    "amd:detect": "Stream call audio to /v1/amd/stream and receive decisions.",
    "amd:configure": "Read and change the organization's AMD config (/v1/amd/config).",
    "amd:read": "Read call records and decisions (/v1/amd/calls).",
}
WILDCARDS = {
    "amd:*": "Every amd: scope.",
    "*": "Every scope.",
}
ALL = {**SCOPES, **WILDCARDS}


def unknown(scopes) -> list[str]:
    return [scope for scope in scopes if scope not in ALL]


def grants(granted, required: str) -> bool:
    """True if any granted scope (exact or wildcard) covers ``required``."""
    for scope in granted:
        if scope == "*" or scope == required:
            return True
        if scope.endswith(":*") and required.startswith(scope[:-1]):
            return True
    return False


def parse_list(value: str) -> list[str]:
    """``"amd:detect, amd:read"`` → ``["amd:detect", "amd:read"]`` (order kept, duplicates dropped)."""
    seen: list[str] = []
    for item in value.replace(" ", ",").split(","):
        if item and item not in seen:
            seen.append(item)
    return seen
