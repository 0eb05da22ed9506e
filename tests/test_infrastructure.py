"""The suite runs on the real backends whenever they are configured."""

import os

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from amd_project import celery_app


@pytest.mark.django_db
def test_it_uses_postgresql_when_database_url_is_set():
    if os.getenv("DATABASE_URL"):
        assert connection.vendor == "postgresql"
        with connection.cursor() as cursor:
            cursor.execute("select version()")
            assert "PostgreSQL" in cursor.fetchone()[0]
    else:
        assert connection.vendor == "sqlite"


def test_it_uses_redis_for_cache_channels_and_celery_when_redis_url_is_set():
    layer = get_channel_layer()
    if os.getenv("REDIS_URL"):
        assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
        assert type(layer).__name__ == "RedisChannelLayer"
        assert celery_app.conf.broker_url.startswith("redis://")
        assert celery_app.conf.task_always_eager is False
    else:
        assert type(layer).__name__ == "InMemoryChannelLayer"
        assert celery_app.conf.task_always_eager is True
    cache.set("probe", "value", 10)
    assert cache.get("probe") == "value"
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)(channel, {"type": "probe", "n": 1})
    assert async_to_sync(layer.receive)(channel) == {"type": "probe", "n": 1}


def test_debug_is_off_by_default():
    assert settings.DEBUG is (os.getenv("DEBUG", "").lower() in {"1", "true", "yes", "on"})
