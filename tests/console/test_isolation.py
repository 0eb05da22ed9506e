"""Another organization's objects are 404 in the console, by any URL a user can type."""

import pytest

from detection.models import WebhookDelivery

from .conftest import make_call, make_delivery

pytestmark = pytest.mark.django_db


def test_another_organizations_call_is_404_and_ones_own_is_not(console, tenant, outsider):
    theirs = make_call(outsider.org, call_sid="CA" + "9" * 32, reason="their secret reason")
    mine = make_call(tenant.org)
    response = console.get(f"/calls/{theirs.pk}/")
    assert response.status_code == 404
    assert b"their secret reason" not in response.content
    assert console.get(f"/calls/{mine.pk}/").status_code == 200


def test_another_organizations_calls_are_not_listed_nor_found_by_sid(console, tenant, outsider):
    theirs = make_call(outsider.org, call_sid="CA" + "9" * 32)
    make_call(tenant.org, call_sid="CA" + "1" * 32)
    listing = console.get("/calls/").content.decode()
    assert "CA" + "1" * 32 in listing and theirs.call_sid not in listing
    for value in (theirs.call_sid, theirs.pk):
        found = console.get("/calls/", {"call_sid": value}).content.decode()
        assert "<tr data-call-id=" not in found and "No calls match" in found


def test_another_organizations_key_cannot_be_revoked_or_viewed(console, outsider):
    key = outsider.key
    assert console.get(f"/keys/{key.pk}/revoke/").status_code == 404
    assert console.post(f"/keys/{key.pk}/revoke/").status_code == 404
    assert console.get(f"/keys/{key.pk}/created/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert outsider.client().get("/v1/me").status_code == 200
    assert key.masked not in console.get("/keys/").content.decode()


def test_another_organizations_delivery_cannot_be_replayed(console, tenant, outsider, replays):
    their_call = make_call(outsider.org)
    their_delivery = make_delivery(their_call)
    my_call = make_call(tenant.org)
    my_delivery = make_delivery(my_call)
    assert console.post(f"/calls/{their_call.pk}/deliveries/{their_delivery.pk}/replay/").status_code == 404
    assert console.post(f"/calls/{my_call.pk}/deliveries/{their_delivery.pk}/replay/").status_code == 404
    assert console.post(f"/calls/{their_call.pk}/deliveries/{my_delivery.pk}/replay/").status_code == 404
    assert replays == []
    assert console.post(f"/calls/{my_call.pk}/deliveries/{my_delivery.pk}/replay/").status_code == 302
    assert replays == [my_delivery.pk]
    assert WebhookDelivery.objects.get(pk=their_delivery.pk).status == "failed"


def test_a_teammate_sees_the_organizations_calls(tenant, outsider):
    from django.test import Client

    mine = make_call(tenant.org)
    theirs = make_call(outsider.org)
    client = Client()
    client.force_login(tenant.teammate)
    assert client.get(f"/calls/{mine.pk}/").status_code == 200
    assert client.get(f"/calls/{theirs.pk}/").status_code == 404


def test_console_pages_need_a_signed_in_member(client, tenant):
    from django.contrib.auth import get_user_model

    for path in ("/", "/calls/", "/keys/", "/settings/", "/try/", "/usage/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith(f"/login/?next={path}")
    loner = get_user_model().objects.create_user("loner", password="x-Long-enough-1")
    client.force_login(loner)
    response = client.get("/keys/")
    assert response.status_code == 403
    assert b"not a member of any organization" in response.content
