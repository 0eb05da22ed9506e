from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import ApiKey


@pytest.mark.django_db
def test_no_plaintext_key_or_secret_is_stored(tenant):
    body = tenant.token[len("pyai_test_"):]
    secret = body[12:44]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiKey._meta.db_table}")
        rows = [" ".join(str(value) for value in row) for row in cursor.fetchall()]
    assert rows
    for row in rows:
        assert tenant.token not in row
        assert secret not in row


@pytest.mark.django_db
def test_create_rejects_unknown_scopes(tenant):
    with pytest.raises(ValueError, match="amd:delete"):
        ApiKey.create(tenant.org, "bad", "live", ["amd:read", "amd:delete"])


@pytest.mark.django_db
def test_key_gets_the_default_limits(tenant):
    assert (tenant.key.requests_per_second, tenant.key.burst, tenant.key.concurrent_streams) == (20, 40, 100)


@pytest.mark.django_db
@pytest.mark.parametrize("granted,required,expected", [
    (["amd:*"], "amd:configure", True),
    (["*"], "amd:read", True),
    (["amd:read"], "amd:read", True),
    (["amd:read"], "amd:detect", False),
    (["amd:detect", "amd:read"], "amd:configure", False),
])
def test_scopes_honour_wildcards(tenant, granted, required, expected):
    key, _ = ApiKey.create(tenant.org, "k", "test", granted)
    assert key.has_scope(required) is expected


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute(tenant, django_assert_num_queries):
    tenant.key.touch()
    first = ApiKey.objects.get(pk=tenant.key.pk).last_used
    assert first is not None
    fresh = ApiKey.objects.get(pk=tenant.key.pk)
    with django_assert_num_queries(0):
        fresh.touch()
    assert ApiKey.objects.get(pk=tenant.key.pk).last_used == first
    ApiKey.objects.filter(pk=tenant.key.pk).update(last_used=timezone.now() - timedelta(minutes=2))
    stale = ApiKey.objects.get(pk=tenant.key.pk)
    stale.touch()
    assert ApiKey.objects.get(pk=tenant.key.pk).last_used > first
