"""The record follower of the OPC UA bridge: each committed record once, ids skipped at first read again."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from api.db.engine import make_engine, session_factory, upgrade
from api.db.tables import PieceRecord
from api.opcua.records import RecordFollower
from api.opcua.results import RESULT_STATE, sort_result


def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'records.db'}")
    upgrade(engine)
    return session_factory(engine)


def insert(factory, *ids: int) -> None:
    """Commit records with these ids (as PostgreSQL might commit them: any order, with gaps)."""
    with factory() as session:
        for i in ids:
            body = {"piece_id": f"p{i}", "line_id": "L1", "state": "ok", "grade": "5182", "bin": "5xxx",
                    "decision": "accept", "fire_count": 1000 + i}
            session.add(PieceRecord(id=i, line_id="L1", piece_id=f"p{i}", state="ok", decision="accept", bin="5xxx",
                                    received_at=datetime.now(UTC), result=json.dumps(body)))
        session.commit()


def test_each_record_once_and_a_late_commit_below_the_newest_still_comes(tmp_path):
    factory = sessions(tmp_path)
    insert(factory, 1, 2)
    follower = RecordFollower(factory, gap_timeout_s=3600.0)
    follower.start_at_newest()
    assert follower.poll() == []                       # records before the start are history
    insert(factory, 3, 6)                              # 4 and 5 still in flight (or burnt)
    assert [r.record_id for r in follower.poll()] == [3, 6]
    assert follower.poll() == []
    insert(factory, 5)                                 # committed after 6
    assert [r.record_id for r in follower.poll()] == [5]
    assert sorted(follower.gaps) == [4]


def test_a_gap_is_given_up_after_its_timeout(tmp_path):
    factory = sessions(tmp_path)
    follower = RecordFollower(factory, gap_timeout_s=0.0)
    follower.start_at_newest()
    insert(factory, 2)
    assert [r.record_id for r in follower.poll()] == [2] and sorted(follower.gaps) == [1]
    follower.poll()   # any time later than "now" is past a zero timeout
    assert follower.gaps == {}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 60), unique=True, min_size=1, max_size=25))
def test_whatever_the_commit_order_every_record_comes_once(tmp_path_factory, ids):
    factory = sessions(tmp_path_factory.mktemp("order"))
    follower = RecordFollower(factory, gap_timeout_s=3600.0)
    follower.start_at_newest()
    seen: list[int] = []
    for i in ids:   # one commit per record, polled after each
        insert(factory, i)
        seen.extend(r.record_id for r in follower.poll())
    # ids below the newest already seen come back through the gaps: all of them, each once
    assert sorted(seen) == sorted(ids)


def test_states_map_to_the_machine_vision_result_states():
    # OPC 40100-1 table 153: 1 Completed, 4 Failed; below 0 application-specific
    assert RESULT_STATE == {"ok": 1, "invalid": 4, "late": -1}
    r = sort_result(7, "L1", "p7", datetime.now(UTC), json.dumps({"state": "invalid", "grade": None, "bin": "re",
                                                                  "decision": "unknown", "fire_count": None}))
    assert (r.result_state, r.grade, r.bin, r.fire_count) == (4, "", "re", None)


def test_the_endpoint_setting_must_be_opc_tcp_host_port():
    import pytest

    from api.settings import load_settings
    from blending.errors import InputError

    assert load_settings(opcua_endpoint="opc.tcp://0.0.0.0:4840").opcua_endpoint == "opc.tcp://0.0.0.0:4840"
    for bad in ("http://plc:4840", "opc.tcp://plc", "opc.tcp://:4840", "opc.tcp://plc:port"):
        with pytest.raises(InputError, match="opc.tcp://HOST:PORT"):
            load_settings(opcua_endpoint=bad)
