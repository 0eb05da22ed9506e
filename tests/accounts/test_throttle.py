import pytest

from accounts import limits


@pytest.mark.django_db
def test_it_allows_the_burst_then_answers_429_with_retry_after(tenant):
    key, token = tenant.new_key(requests_per_second=1, burst=3)
    client = tenant.client(token)
    statuses = [client.get("/v1/scopes").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = client.get("/v1/scopes")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert int(response["Retry-After"]) >= 1


@pytest.mark.django_db
def test_each_key_has_its_own_bucket(tenant):
    _k1, t1 = tenant.new_key(requests_per_second=1, burst=1)
    _k2, t2 = tenant.new_key(requests_per_second=1, burst=1)
    assert tenant.client(t1).get("/v1/scopes").status_code == 200
    assert tenant.client(t1).get("/v1/scopes").status_code == 429
    assert tenant.client(t2).get("/v1/scopes").status_code == 200


def test_the_bucket_refills_at_the_key_rate():
    backend = limits.backend()
    now = 1000.0
    interval, tolerance = 0.1, 0.2  # 10/s, burst 2
    assert backend.take("bucket-refill", interval, tolerance, now) == 0
    assert backend.take("bucket-refill", interval, tolerance, now) == 0
    wait = backend.take("bucket-refill", interval, tolerance, now)
    assert wait == pytest.approx(0.1, abs=1e-6)
    assert backend.take("bucket-refill", interval, tolerance, now + 0.1) == 0


def test_stream_slots_are_capped_and_released():
    backend = limits.backend()
    assert backend.acquire("k-cap", "s1", 2, 1000.0)
    assert backend.acquire("k-cap", "s2", 2, 1000.0)
    assert not backend.acquire("k-cap", "s3", 2, 1000.0)
    backend.release("k-cap", "s1")
    assert backend.acquire("k-cap", "s3", 2, 1000.0)


def test_stale_stream_slots_expire():
    backend = limits.backend()
    assert backend.acquire("k-stale", "s1", 1, 1000.0)
    assert not backend.acquire("k-stale", "s2", 1, 1000.0 + limits.STREAM_SLOT_TTL_S - 1)
    assert backend.acquire("k-stale", "s2", 1, 1000.0 + limits.STREAM_SLOT_TTL_S + 1)
