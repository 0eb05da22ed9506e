"""The detector models this deployment serves (GET /v1/models)."""

MODELS = [
    {
        "id": "pyai-amd-1",
        "object": "model",
        "version": "1.0.0",
        "description": "Streaming answering-machine detector: voice activity, speech timing, "
                       "SIT, fax and beep tones, decided under the aggressiveness operating point.",
        "default": True,
    }
]


def available_models() -> list[dict]:
    return [dict(model) for model in MODELS]
