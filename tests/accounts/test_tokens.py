import pytest
from django.test import override_settings

from accounts import tokens


def test_a_minted_token_parses_back_to_its_parts():
    token, secret = tokens.mint("live", "AbCdEfGhIjKl")
    parsed = tokens.parse(token)
    assert parsed == tokens.ParsedToken(env="live", key_id="AbCdEfGhIjKl", secret=secret)
    assert token.startswith("pyai_live_")
    assert len(token) <= tokens.MAX_TOKEN_LENGTH


def test_tokens_use_only_subprotocol_safe_characters():
    for _ in range(50):
        token, _secret = tokens.mint("test", tokens.new_key_id())
        assert all(ch.isalnum() or ch in "_-" for ch in token)


@pytest.mark.parametrize("mutate", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # MAC altered
    lambda t: t[:20] + ("x" if t[20] != "x" else "y") + t[21:],  # secret altered
    lambda t: t.replace("pyai_live_", "pyai_test_"),  # env altered
    lambda t: t[:-2],  # truncated
    lambda t: t + "A",  # extended
    lambda t: t.replace("pyai_", "sk_"),
    lambda t: "",
    lambda t: "pyai_live_" + "A" * 5000,
])
def test_forged_or_malformed_tokens_do_not_parse(mutate):
    token, _ = tokens.mint("live", "AbCdEfGhIjKl")
    assert tokens.parse(mutate(token)) is None


def test_a_token_made_with_another_server_secret_does_not_parse():
    with override_settings(API_KEY_SECRET="another-secret"):
        token, _ = tokens.mint("live", "AbCdEfGhIjKl")
    assert tokens.parse(token) is None


def test_masked_form_shows_prefix_and_four_characters_each_end():
    token, _ = tokens.mint("live", "AbCdEfGhIjKl")
    assert tokens.masked(token) == f"pyai_live_AbCd…{token[-4:]}"
