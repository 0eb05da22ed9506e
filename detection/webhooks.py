"""Webhook delivery of decision events."""


def enqueue_event(call, event: dict) -> None:
    """Record and schedule delivery of one socket event (``amd`` or ``amd.message_end``) for ``call``.

    Called once per event from the stream consumer (through ``database_sync_to_async``); must return
    at once: the HTTP work happens in Celery, never on the socket's event loop.
    """
