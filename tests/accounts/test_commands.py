from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts import tokens
from accounts.models import ApiKey, Organization


@pytest.mark.django_db
def test_createapikey_creates_the_org_and_prints_only_the_key():
    out, err = StringIO(), StringIO()
    call_command("createapikey", "--org", "newco", "--env", "live", "--scopes", "amd:detect,amd:read",
                 "--name", "dialer", stdout=out, stderr=err)
    token = out.getvalue().strip()
    assert "\n" not in token
    parsed = tokens.parse(token)
    assert parsed and parsed.env == "live"
    key = ApiKey.objects.get(pk=parsed.key_id)
    assert key.organization == Organization.objects.get(slug="newco")
    assert key.scopes == ["amd:detect", "amd:read"] and key.name == "dialer"


@pytest.mark.django_db
def test_createapikey_reuses_an_existing_org(tenant):
    out = StringIO()
    call_command("createapikey", "--org", "acme", "--env", "test", stdout=out, stderr=StringIO())
    assert ApiKey.objects.get(pk=tokens.parse(out.getvalue().strip()).key_id).organization == tenant.org


@pytest.mark.django_db
def test_createapikey_refuses_unknown_scopes():
    with pytest.raises(CommandError, match="amd:nope"):
        call_command("createapikey", "--org", "x", "--env", "test", "--scopes", "amd:nope",
                     stdout=StringIO(), stderr=StringIO())
    assert not Organization.objects.filter(slug="x").exists()


@pytest.mark.django_db
def test_bootstrap_demo_prints_the_key_once():
    first = StringIO()
    call_command("bootstrap_demo", stdout=first)
    assert "pyai_test_" in first.getvalue()
    second = StringIO()
    call_command("bootstrap_demo", stdout=second)
    assert "pyai_test_" not in second.getvalue()
    assert ApiKey.objects.filter(organization__slug="demo").count() == 1
