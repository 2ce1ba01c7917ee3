"""Placement literals: where a federated value lives (CLIENTS or SERVER)."""

from __future__ import annotations


class PlacementLiteral:
    """A named group of participants that a federated value is placed at.

    Placements are singletons compared by identity-equivalent uri; `str()` is the
    upper-case name used in type notation (`{float32}@CLIENTS`).
    """

    __slots__ = ("_uri", "_name", "_default_all_equal")

    def __init__(self, uri: str, name: str, default_all_equal: bool):
        self._uri = uri
        self._name = name
        self._default_all_equal = default_all_equal

    @property
    def uri(self) -> str:
        return self._uri

    @property
    def name(self) -> str:
        return self._name

    @property
    def default_all_equal(self) -> bool:
        """Whether a value placed here is all-equal unless said otherwise."""
        return self._default_all_equal

    def __str__(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"PlacementLiteral({self._uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlacementLiteral) and other._uri == self._uri

    def __hash__(self) -> int:
        return hash(("placement", self._uri))


CLIENTS = PlacementLiteral("clients", "CLIENTS", default_all_equal=False)
SERVER = PlacementLiteral("server", "SERVER", default_all_equal=True)

_BY_URI = {p.uri: p for p in (CLIENTS, SERVER)}


def uri_to_placement(uri: str) -> PlacementLiteral:
    """Returns the placement with the given uri (`'clients'` or `'server'`).

    Raises:
      ValueError: if `uri` names no placement.
    """
    try:
        return _BY_URI[uri]
    except KeyError:
        raise ValueError(
            f"expected a placement uri, one of {sorted(_BY_URI)}, got {uri!r}"
        ) from None
