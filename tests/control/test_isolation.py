"""One organization's key never reads or changes another's config, calls or deliveries; modes are separate."""

import pytest

from accounts.models import Organization
from detection.models import WebhookDelivery

from .support import assert_problem, make_call


def listed(client, **params) -> set[str]:
    response = client.get("/v1/amd/calls", {"limit": 100, **params})
    assert response.status_code == 200
    return {call["id"] for call in response.json()["data"]}


@pytest.mark.django_db
def test_another_organizations_call_is_a_404_by_id_and_by_call_sid(tenant, outsider):
    theirs = make_call(outsider.org)
    client = tenant.client()
    for ref in (theirs.id, theirs.call_sid):
        assert_problem(client.get(f"/v1/amd/calls/{ref}"), 404)
    assert outsider.client().get(f"/v1/amd/calls/{theirs.id}").status_code == 200


@pytest.mark.django_db
def test_the_list_never_includes_another_organizations_calls(tenant, outsider):
    mine = make_call(tenant.org, call_sid="CA" + "1" * 32)
    theirs = make_call(outsider.org, call_sid="CA" + "1" * 32)
    assert listed(tenant.client()) == {mine.id}
    assert listed(tenant.client(), call_sid="CA" + "1" * 32) == {mine.id}
    assert listed(outsider.client()) == {theirs.id}
    assert_problem(tenant.client().get("/v1/amd/calls", {"starting_after": theirs.id}), 400, "starting_after")


@pytest.mark.django_db
def test_a_cursor_cannot_reach_into_another_organization(tenant, outsider):
    for _ in range(3):
        make_call(outsider.org)
    cursor = outsider.client().get("/v1/amd/calls", {"limit": 1}).json()["next_cursor"]
    assert cursor
    mine = make_call(tenant.org)
    response = tenant.client().get("/v1/amd/calls", {"cursor": cursor})
    assert response.status_code == 200
    assert {c["id"] for c in response.json()["data"]} <= {mine.id}


@pytest.mark.django_db
def test_test_keys_see_only_test_calls_and_live_keys_only_live_calls(tenant):
    test_call = make_call(tenant.org, livemode=False, call_sid="CA" + "2" * 32)
    live_call = make_call(tenant.org, livemode=True, call_sid="CA" + "3" * 32)
    _live_key, live_token = tenant.new_key(env="live")
    test_client, live_client = tenant.client(), tenant.client(live_token)
    assert listed(test_client) == {test_call.id}
    assert listed(live_client) == {live_call.id}
    assert_problem(test_client.get(f"/v1/amd/calls/{live_call.id}"), 404)
    assert_problem(live_client.get(f"/v1/amd/calls/{test_call.call_sid}"), 404)
    body = live_client.get(f"/v1/amd/calls/{live_call.id}").json()
    assert body["livemode"] is True


@pytest.mark.django_db
def test_deliveries_show_only_under_their_own_organizations_calls(tenant, outsider):
    theirs = make_call(outsider.org, webhook_url="https://globex.example.com/hook")
    WebhookDelivery.objects.create(organization=outsider.org, call=theirs, event_type="amd",
                                   url=theirs.webhook_url, body="{}")
    mine = make_call(tenant.org)
    body = tenant.client().get("/v1/amd/calls").json()
    assert [c["id"] for c in body["data"]] == [mine.id]
    assert body["data"][0]["webhook"]["deliveries"] == []
    assert "globex.example.com" not in tenant.client().get("/v1/amd/calls").content.decode()


@pytest.mark.django_db
def test_a_key_changes_only_its_own_organizations_config(tenant, outsider):
    response = tenant.client().post("/v1/amd/config", {"aggressiveness": 0.9,
                                                       "webhook_url": "https://acme.example.com/hook"},
                                    format="json")
    assert response.status_code == 200
    untouched = Organization.objects.get(pk=outsider.org.pk)
    assert untouched.aggressiveness == 0.25 and untouched.webhook_url == ""
    theirs = outsider.client().get("/v1/amd/config").json()
    assert theirs["webhook_url"] is None and theirs["aggressiveness"] == 0.25
    assert theirs["webhook_signing_secret_hint"] == untouched.webhook_signing_secret_hint
