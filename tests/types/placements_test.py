"""Tests for tffl.types.placements."""

import pytest

from tffl.types import placements


class TestPlacementLiteral:
    @pytest.mark.parametrize(
        "placement, uri, name, default_all_equal",
        [
            pytest.param(placements.CLIENTS, "clients", "CLIENTS", False, id="clients"),
            pytest.param(placements.SERVER, "server", "SERVER", True, id="server"),
        ],
    )
    def test_properties_when_builtin_placement(self, placement, uri, name, default_all_equal):
        assert placement.uri == uri
        assert placement.name == name
        assert placement.default_all_equal is default_all_equal

    @pytest.mark.parametrize(
        "placement, expected_str, expected_repr",
        [
            pytest.param(
                placements.CLIENTS, "CLIENTS", "PlacementLiteral('clients')", id="clients"
            ),
            pytest.param(placements.SERVER, "SERVER", "PlacementLiteral('server')", id="server"),
        ],
    )
    def test_str_and_repr(self, placement, expected_str, expected_repr):
        assert str(placement) == expected_str
        assert repr(placement) == expected_repr

    def test_equal_and_same_hash_when_same_uri(self):
        twin = placements.PlacementLiteral("clients", "OTHER_NAME", default_all_equal=True)

        assert twin == placements.CLIENTS
        assert hash(twin) == hash(placements.CLIENTS)
        assert {twin, placements.CLIENTS} == {placements.CLIENTS}

    @pytest.mark.parametrize(
        "other",
        [
            pytest.param(placements.SERVER, id="other_placement"),
            pytest.param("clients", id="uri_string"),
            pytest.param("CLIENTS", id="name_string"),
            pytest.param(None, id="none"),
        ],
    )
    def test_not_equal_when_other_is_not_the_same_placement(self, other):
        assert placements.CLIENTS != other


class TestUriToPlacement:
    @pytest.mark.parametrize(
        "uri, expected",
        [
            pytest.param("clients", placements.CLIENTS, id="clients"),
            pytest.param("server", placements.SERVER, id="server"),
        ],
    )
    def test_returns_the_singleton_when_uri_is_known(self, uri, expected):
        assert placements.uri_to_placement(uri) is expected

    @pytest.mark.parametrize(
        "uri, expected_message",
        [
            pytest.param(
                "nowhere",
                "expected a placement uri, one of ['clients', 'server'], got 'nowhere'",
                id="unknown",
            ),
            pytest.param(
                "CLIENTS",
                "expected a placement uri, one of ['clients', 'server'], got 'CLIENTS'",
                id="name_instead_of_uri",
            ),
            pytest.param(
                "",
                "expected a placement uri, one of ['clients', 'server'], got ''",
                id="empty",
            ),
        ],
    )
    def test_raises_value_error_when_uri_is_unknown(self, uri, expected_message):
        with pytest.raises(ValueError) as raised:
            placements.uri_to_placement(uri)

        assert str(raised.value) == expected_message
