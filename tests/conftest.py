"""The base fixture: an organization with an owner and a teammate, and an outsider's organization."""

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts import limits
from accounts.models import ApiKey, Membership, Organization


@dataclass
class Tenant:
    org: Organization
    owner: object
    teammate: object | None
    key: ApiKey
    token: str

    def client(self, token: str | None = None) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token or self.token}")
        return client

    def new_key(self, env="test", scopes=("amd:*",), **fields) -> tuple[ApiKey, str]:
        return ApiKey.create(self.org, f"{env} key", env, list(scopes), **fields)


def make_tenant(slug: str, with_teammate: bool = True, env: str = "test") -> Tenant:
    User = get_user_model()
    org = Organization.objects.create(name=slug.title(), slug=slug)
    owner = User.objects.create_user(f"{slug}-owner", password="correct horse battery staple")
    Membership.objects.create(user=owner, organization=org, role=Membership.OWNER)
    teammate = None
    if with_teammate:
        teammate = User.objects.create_user(f"{slug}-teammate", password="correct horse battery staple")
        Membership.objects.create(user=teammate, organization=org, role=Membership.MEMBER)
    key, token = ApiKey.create(org, "Main key", env, ["amd:*"], created_by=owner)
    return Tenant(org, owner, teammate, key, token)


@pytest.fixture(autouse=True)
def _fresh_limits_and_cache():
    limits.backend().reset()
    cache.clear()
    yield
    limits.backend().reset()


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant("acme")


@pytest.fixture
def outsider(db) -> Tenant:
    return make_tenant("globex", with_teammate=False)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def staff_client(client, db):
    """A Django test client signed in as a superuser (the admin)."""
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-admin-tests")
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database; at the end, connections other threads still hold (database threads, delivery
    threads) are closed so the database can be dropped."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
