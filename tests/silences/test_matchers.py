"""Matchers: parsing, Alertmanager semantics, refusing too-broad silences."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsbook.silences.matchers import (
    AlertAttrs,
    Matcher,
    MatcherError,
    Op,
    check_not_too_broad,
    matcher_from_json,
    matches_all,
    parse_matcher,
    service_matcher,
)

API_P2 = AlertAttrs(service="api", check="health", rule="failures", severity="P2", labels={"team": "web"})


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ("service=api", "service", Op.EQ, "api"),
        ('severity=~"P[23]"', "severity", Op.RE, "P[23]"),
        ("severity=~'P[23]'", "severity", Op.RE, "P[23]"),
        (" team != db ", "team", Op.NE, "db"),
        ("check!~tls.*", "check", Op.NRE, "tls.*"),
        ('comment="a \\"quoted\\" word"', "comment", Op.EQ, 'a "quoted" word'),
        ("severity=p2", "severity", Op.EQ, "P2"),
        ("env=", "env", Op.EQ, ""),
    ],
)
def test_parse(text: str, name: str, op: Op, value: str) -> None:
    m = parse_matcher(text)
    assert (m.name, m.op, m.value) == (name, op, value)
    assert parse_matcher(str(m)) == m  # the printed form reads back


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("service", "is not a matcher"),
        ("=api", "is not a matcher"),
        ('severity=~"P[23"', "invalid regular expression"),
        ("severity=P9", "not a severity"),
        ("9x=1", "is not a matcher"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(MatcherError, match=message):
        parse_matcher(text)


def test_semantics_like_alertmanager() -> None:
    assert parse_matcher("service=api").matches(API_P2)
    assert not parse_matcher("service=ap").matches(API_P2)
    assert parse_matcher("severity=~P[23]").matches(API_P2)
    assert not parse_matcher("severity=~P[34]").matches(API_P2)
    assert not parse_matcher("severity=~P").matches(API_P2)  # anchored: no partial match
    assert parse_matcher("severity!~P[01]").matches(API_P2)
    assert parse_matcher("team=web").matches(API_P2)
    assert parse_matcher("team!=db").matches(API_P2)
    assert parse_matcher("region!=eu").matches(API_P2)  # a missing label is ""
    assert parse_matcher("region=").matches(API_P2)
    assert not parse_matcher("region=~.+").matches(API_P2)
    assert parse_matcher("rule=failures").matches(API_P2)
    assert parse_matcher("check=health").matches(API_P2)
    assert matches_all([parse_matcher("service=api"), parse_matcher("severity=~P[23]")], API_P2)
    assert not matches_all([parse_matcher("service=api"), parse_matcher("severity=P3")], API_P2)


def test_builtin_attributes_win_over_labels() -> None:
    attrs = AlertAttrs(service="api", labels={"service": "other"})
    assert parse_matcher("service=api").matches(attrs)


def test_json_forms() -> None:
    m = matcher_from_json({"name": "severity", "op": "=~", "value": "P[0-2]"})
    assert m == parse_matcher('severity=~"P[0-2]"')
    assert matcher_from_json({"name": "service", "value": "db"}).op is Op.EQ
    assert matcher_from_json(m.to_json()) == m
    with pytest.raises(MatcherError):
        matcher_from_json({"name": "service"})
    with pytest.raises(MatcherError, match="operator"):
        matcher_from_json({"name": "service", "op": "~=", "value": "x"})


def test_too_broad() -> None:
    check_not_too_broad([parse_matcher("service=api")])
    check_not_too_broad([parse_matcher("service=api"), parse_matcher("team!=db")])
    for bad in ([], [parse_matcher("team!=db")], [parse_matcher("service=~.*")], [parse_matcher("env=")]):
        with pytest.raises(MatcherError):
            check_not_too_broad(bad)


def test_service_matcher_is_literal() -> None:
    m = service_matcher(["db", "a.b"])
    assert m.matches(AlertAttrs(service="a.b"))
    assert m.matches(AlertAttrs(service="db"))
    assert not m.matches(AlertAttrs(service="axb"))
    assert service_matcher(["db"]) == Matcher.make("service", "=", "db")


values = st.text(alphabet="abcP0123.-", max_size=6)


@given(value=values, actual=values)
def test_equality_and_negation_are_complements(value: str, actual: str) -> None:
    attrs = AlertAttrs(service="s", labels={"x": actual})
    assert Matcher.make("x", Op.EQ, value).matches(attrs) == (actual == value)
    assert Matcher.make("x", Op.EQ, value).matches(attrs) != Matcher.make("x", Op.NE, value).matches(attrs)
    regex = re.escape(value)
    assert Matcher.make("x", Op.RE, regex).matches(attrs) == (actual == value)
    assert Matcher.make("x", Op.RE, regex).matches(attrs) != Matcher.make("x", Op.NRE, regex).matches(attrs)
