"""Error pages: problem+json under /v1/, HTML elsewhere."""

from django.views import defaults

from accounts.errors import problem_response


def not_found(request, exception=None):
    if request.path.startswith("/v1/"):
        return problem_response(404, f"No endpoint at {request.path}.", "not_found")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/v1/"):
        return problem_response(500, "The server failed to handle this request.", "server_error")
    return defaults.server_error(request)
