"""db/engine.py mysqldb_datetime: mysqlclient's DATETIME converter made faster gives what
the original (MySQLdb.times.DateTime_or_None) gives, for every shape MySQL writes and for
what it should never write."""

from __future__ import annotations

import pytest

from neutrino.db.engine import mysqldb_conversions, mysqldb_datetime

times = pytest.importorskip("MySQLdb.times")
FIELD_TYPE = pytest.importorskip("MySQLdb.constants.FIELD_TYPE")

VALUES = [
    "2026-12-07 20:53:07", "1970-01-01 00:00:00", "9999-12-31 23:59:59",
    "2026-12-07 20:53:07.1", "2026-12-07 20:53:07.123", "2026-12-07 20:53:07.000001",
    "2026-12-07 20:53:07.123456", "2024-02-29 12:00:00",
    # never written for a DATETIME column, still as the original
    "0000-00-00 00:00:00", "2023-02-29 12:00:00", "2026-12-07", "2026-12-07 20:53:07.1234567",
    "2026-12-07 25:00:00", "not a date at all!!", "", "2026-12-07 20:53:07.",
    "2026-12-07T20:53:07", "2026-12-07 20:53:07+01:00", "2026-12-07 20:53:07.1+01",
    "2026-12-07 20:53:07.12Z", "2026-12-07 20:53:07,123",
]


@pytest.mark.parametrize("text", VALUES)
def test_same_as_mysqlclients_own(text: str) -> None:
    got, want = mysqldb_datetime(text), times.DateTime_or_None(text)
    assert got == want and type(got) is type(want), (text, got, want)


def test_conversions_replace_datetime_and_timestamp_only() -> None:
    from MySQLdb.converters import conversions

    conv = mysqldb_conversions()
    assert conv[FIELD_TYPE.DATETIME] is mysqldb_datetime
    assert conv[FIELD_TYPE.TIMESTAMP] is mysqldb_datetime
    assert {k: v for k, v in conv.items() if k not in (FIELD_TYPE.DATETIME,
                                                       FIELD_TYPE.TIMESTAMP)} == {
        k: v for k, v in conversions.items() if k not in (FIELD_TYPE.DATETIME,
                                                          FIELD_TYPE.TIMESTAMP)}
