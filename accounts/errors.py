"""The two error envelopes of the contract.

Data-plane refusals (401, 402, 403, 429) use the OpenAI-compatible envelope
``{"error": {"message", "type", "code", "param"}}``; control-plane request and
resource errors (400, 404, 405, 415, …) are ``application/problem+json``
(RFC 9457). Views raise; :func:`exception_handler` shapes.
"""

import math

from django.http import JsonResponse
from rest_framework import exceptions

PROBLEM_CONTENT_TYPE = "application/problem+json"
DATA_PLANE_STATUSES = {401, 402, 403, 429}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    429: "rate_limit_error",
}
DEFAULT_CODES = {
    400: "invalid_request_error",
    401: "unauthorized",
    402: "credit_exhausted",
    403: "forbidden",
    429: "rate_limit_exceeded",
}
# Close codes for the same refusals on the stream socket.
SOCKET_CLOSE_CODES = {400: 4400, 401: 4401, 402: 4402, 403: 4403, 429: 4429}


class ApiError(exceptions.APIException):
    """A data-plane refusal with an explicit envelope code."""

    def __init__(self, status_code: int, code: str, message: str, param: str | None = None,
                 retry_after: float | None = None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.param = param
        self.retry_after = retry_after

    def envelope(self) -> dict:
        return error_envelope(self.status_code, self.code, self.message, self.param)

    @property
    def close_code(self) -> int:
        return SOCKET_CLOSE_CODES.get(self.status_code, 4400)


def error_envelope(status_code: int, code: str, message: str, param: str | None = None) -> dict:
    return {
        "error": {
            "message": message,
            "type": ERROR_TYPES.get(status_code, "invalid_request_error"),
            "code": code,
            "param": param,
        }
    }


def problem(status_code: int, title: str, detail: str, code: str, errors: dict | None = None) -> dict:
    body = {"type": f"urn:pyai:problem:{code}", "title": title, "status": status_code, "detail": detail}
    if errors:
        body["errors"] = errors
    return body


def _text(detail) -> str:
    if isinstance(detail, list):
        return " ".join(_text(item) for item in detail)
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_text(value)}" for key, value in detail.items())
    return str(detail)


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {key: [str(item) for item in (value if isinstance(value, list) else [value])]
                for key, value in detail.items()}
    return {"non_field_errors": [str(item) for item in (detail if isinstance(detail, list) else [detail])]}


def exception_handler(exc, context):
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code_status = response.status_code
    if code_status in DATA_PLANE_STATUSES:
        if isinstance(exc, ApiError):
            response.data = exc.envelope()
            if exc.retry_after is not None:
                response["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        else:
            code = DEFAULT_CODES[code_status]
            response.data = error_envelope(code_status, code, _text(response.data.get("detail", response.data)))
        if code_status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="api"'
        if code_status == 429 and "Retry-After" not in response:
            response["Retry-After"] = "1"
        return response

    title = _title(code_status)
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        fields = [key for key in errors if key != "non_field_errors"]
        detail = (f"Invalid value for {', '.join(repr(f) for f in fields)}." if fields
                  else _text(exc.detail))
        response.data = problem(code_status, "Validation error", detail, "validation_error", errors)
    else:
        code = getattr(exc, "default_code", "error")
        response.data = problem(code_status, title, _text(response.data.get("detail", response.data)), code)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _title(code_status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(code_status).phrase
    except ValueError:
        return "Error"


def problem_response(status_code: int, detail: str, code: str) -> JsonResponse:
    """A problem+json response for errors raised outside DRF (unknown /v1 URLs, 500s)."""
    return JsonResponse(problem(status_code, _title(status_code), detail, code), status=status_code,
                        content_type=PROBLEM_CONTENT_TYPE)
