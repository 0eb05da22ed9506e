"""Per-key limits on the control plane: request rate with burst (429 + Retry-After) and the stream cap."""

import pytest

from accounts import limits

from .support import make_call


@pytest.mark.django_db
def test_listing_calls_is_rate_limited_per_key_with_retry_after(tenant):
    _key, token = tenant.new_key(requests_per_second=1, burst=2)
    client = tenant.client(token)
    assert [client.get("/v1/amd/calls").status_code for _ in range(2)] == [200, 200]
    response = client.get("/v1/amd/calls")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(response["Retry-After"]) >= 1
    other_key, other = tenant.new_key(requests_per_second=1, burst=2)
    assert tenant.client(other).get("/v1/amd/calls").status_code == 200


@pytest.mark.django_db
def test_a_call_read_is_rate_limited_too(tenant):
    call = make_call(tenant.org)
    _key, token = tenant.new_key(requests_per_second=1, burst=1)
    client = tenant.client(token)
    assert client.get(f"/v1/amd/calls/{call.id}").status_code == 200
    response = client.get(f"/v1/amd/calls/{call.id}")
    assert response.status_code == 429 and response["Retry-After"].isdigit()


@pytest.mark.django_db
def test_the_concurrent_stream_cap_is_the_keys_own(tenant):
    key, token = tenant.new_key(concurrent_streams=2)
    assert [limits.acquire_stream(key, slot) for slot in ("a", "b", "c")] == [True, True, False]
    limits.release_stream(key, "a")
    assert limits.acquire_stream(key, "c")
    other, _ = tenant.new_key(concurrent_streams=2)
    assert limits.acquire_stream(other, "a")
    shown = tenant.client(token).get("/v1/me").json()["limits"]
    assert shown == {"requests_per_second": 20, "burst": 40, "concurrent_streams": 2}
