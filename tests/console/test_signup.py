"""Sign-up makes a user and a new organization they own; sign-in and sign-out."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Membership, Organization

pytestmark = pytest.mark.django_db

PASSWORD = "Tr1cky-Passw0rd!"


def _sign_up(client, username, organization="Northwind Calls"):
    return client.post("/signup/", {"organization": organization, "username": username, "email": "",
                                    "password1": PASSWORD, "password2": PASSWORD})


def test_sign_up_creates_a_user_an_organization_and_an_owner_membership():
    client = Client()
    response = _sign_up(client, "nina")
    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get(username="nina")
    membership = Membership.objects.get(user=user)
    assert membership.role == Membership.OWNER
    assert membership.organization.name == "Northwind Calls" and membership.organization.slug == "northwind-calls"
    overview = client.get("/")
    assert overview.status_code == 200 and b"Northwind Calls" in overview.content


def test_organizations_with_the_same_name_get_distinct_slugs():
    _sign_up(Client(), "first")
    _sign_up(Client(), "second")
    assert sorted(Organization.objects.values_list("slug", flat=True)) == ["northwind-calls", "northwind-calls-2"]


def test_sign_in_and_sign_out(tenant):
    client = Client()
    response = client.post("/login/", {"username": tenant.owner.username, "password": "correct horse battery staple"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_a_signed_in_user_is_sent_from_the_auth_pages_to_the_overview(console):
    assert console.get("/signup/")["Location"] == "/"
    assert console.get("/login/")["Location"] == "/"
