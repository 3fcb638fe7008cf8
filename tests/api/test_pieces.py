"""Classify over HTTP: the same answer as the in-process Sorter, recorded once, paged oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from sorter.serving import Sorter
from tests.api.support import bearer, piece_body, sample, sample_grades

GRADES = ["1050A", "5182", "6061", "brass"]


@pytest.fixture(scope="module")
def in_process() -> Sorter:
    return Sorter()


def test_classify_answers_what_the_in_process_sorter_decides(client, keys, in_process):
    card_sha = {name: card.model_sha256 for name, (_, card) in in_process.cards.items()}
    for i, grade in enumerate(GRADES):
        spectrum = sample(grade)
        r = client.post("/v1/pieces/classify", headers=bearer(keys["controller"]),
                        json=piece_body(spectrum, f"p{i}", mass_kg=0.31, encoder_count=1200 + i))
        assert r.status_code == 200, r.text
        body = r.json()
        expected = in_process.classify(spectrum)
        assert (body["grade"], body["family"], body["decision"]) == (expected.grade, expected.family,
                                                                     expected.decision)
        assert body["probabilities"] == pytest.approx(expected.probabilities)
        assert body["composition_wt_pct"] == pytest.approx(expected.composition_wt_pct)
        assert body["state"] == "ok" and body["replayed"] is False
        assert body["model"] == {"name": "broadband", "sha256": card_sha["broadband"]}
        # no rules set: an accepted piece goes to its family's bin, an unknown one round again
        assert body["bin"] == (expected.family if expected.decision == "accept" else "recirculate")


def test_a_resent_piece_gets_the_stored_result_and_adds_no_record(client, keys):
    head = bearer(keys["controller"])
    first = client.post("/v1/pieces/classify", headers=head, json=piece_body(sample("5182"), "dup"))
    # the same ids with another spectrum: the record is what counts, not the new spectrum
    again = client.post("/v1/pieces/classify", headers=head, json=piece_body(sample("brass"), "dup"))
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert {k: v for k, v in again.json().items() if k != "replayed"} == \
           {k: v for k, v in first.json().items() if k != "replayed"}
    listed = client.get("/v1/pieces", params={"line_id": "L1"}, headers=head).json()["items"]
    assert [p["piece_id"] for p in listed] == ["dup"]


def test_the_same_piece_id_on_two_lines_is_two_pieces(client, keys):
    head = bearer(keys["controller"])
    a = client.post("/v1/pieces/classify", headers=head, json=piece_body(sample("5182"), "x", line_id="A"))
    b = client.post("/v1/pieces/classify", headers=head, json=piece_body(sample("5182"), "x", line_id="B"))
    assert a.json()["replayed"] is False and b.json()["replayed"] is False
    assert a.json()["record_id"] != b.json()["record_id"]


def test_pages_come_oldest_first_and_the_cursor_walks_every_record_once(client, keys):
    head = bearer(keys["controller"])
    spectrum = sample("6063")
    ids = [f"piece-{i:02d}" for i in range(7)]
    for pid in ids:
        assert client.post("/v1/pieces/classify", headers=head, json=piece_body(spectrum, pid)).status_code == 200
    client.post("/v1/pieces/classify", headers=head, json=piece_body(spectrum, "other-line", line_id="L2"))
    seen, after, pages = [], None, 0
    while True:
        params = {"line_id": "L1", "limit": 3} | ({"after": after} if after else {})
        page = client.get("/v1/pieces", params=params, headers=bearer(keys["quality"])).json()
        seen += [p["piece_id"] for p in page["items"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert seen == ids and pages == 3


def test_batch_classifies_each_piece_as_alone_and_replays_duplicates(client, keys, in_process):
    head = bearer(keys["controller"])
    grades = sample_grades()[:6]
    pieces = [piece_body(sample(g), f"b{i}") for i, g in enumerate(grades)]
    pieces.append(piece_body(sample("5182", "highres"), "hr"))   # another grid in the same batch
    pieces.append(pieces[0])                                                   # sent twice in one batch
    r = client.post("/v1/pieces/classify/batch", headers=head, json={"pieces": pieces})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == len(pieces)
    for item, g in zip(items, grades, strict=False):
        assert item["grade"] == in_process.classify(sample(g)).grade
    assert items[6]["model"]["name"] == "highres"
    assert items[-1]["replayed"] is True and items[-1]["record_id"] == items[0]["record_id"]
    listed = client.get("/v1/pieces", params={"line_id": "L1", "limit": 100}, headers=head).json()["items"]
    assert len(listed) == len(pieces) - 1


def test_binary_form_gives_the_json_forms_answer(client, keys):
    head = bearer(keys["controller"])
    models = {m["name"]: m for m in client.get("/v1/models", headers=head).json()}
    spectrum = sample("7075")
    assert models["broadband"]["grid_points"] == spectrum.n_points
    as_json = client.post("/v1/pieces/classify", headers=head, json=piece_body(spectrum, "j")).json()
    r = client.post("/v1/pieces/classify/binary", content=spectrum.intensity.astype("<f4").tobytes(),
                    headers={**head, "Content-Type": "application/octet-stream", "X-Piece-Id": "b",
                             "X-Line-Id": "L1", "X-Model": "broadband"})
    assert r.status_code == 200, r.text
    as_bin = r.json()
    assert (as_bin["grade"], as_bin["decision"], as_bin["bin"]) == (as_json["grade"], as_json["decision"],
                                                                    as_json["bin"])
    assert as_bin["probabilities"] == pytest.approx(as_json["probabilities"], abs=1e-3)


def test_line_rules_set_by_an_admin_decide_the_bin(client, keys, in_process):
    admin, head = bearer(keys["admin"]), bearer(keys["controller"])
    grade = in_process.classify(sample("5182")).grade
    rules = {"bins": [{"bin": "B-5xxx-high", "grades": [grade], "min_probability": 0.99},
                      {"bin": "B-5xxx", "families": ["5xxx"]}], "default_bin": "mixed", "late_after_ms": 500}
    assert client.put("/v1/lines/L1/rules", headers=admin, json=rules).status_code == 200
    assert client.get("/v1/lines/L1/rules", headers=head).json()["bins"][0]["bin"] == "B-5xxx-high"
    top = max(in_process.classify(sample("5182")).probabilities.values())
    r = client.post("/v1/pieces/classify", headers=head, json=piece_body(sample("5182"), "r1")).json()
    assert r["bin"] == ("B-5xxx-high" if top >= 0.99 else "B-5xxx")
    r = client.post("/v1/pieces/classify", headers=head, json=piece_body(sample("6061"), "r2")).json()
    assert r["bin"] == ("mixed" if r["decision"] == "accept" else "recirculate")
    # captured a second ago, deadline 500 ms: late, and to the late bin whatever the grade
    old = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    r = client.post("/v1/pieces/classify", headers=head, json=piece_body(sample("5182"), "r3", captured_at=old))
    assert (r.json()["state"], r.json()["bin"]) == ("late", "recirculate")
    fresh = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    r = client.post("/v1/pieces/classify", headers=head, json=piece_body(sample("5182"), "r4", captured_at=fresh))
    assert r.json()["state"] == "ok"
    # another line keeps the defaults
    assert client.get("/v1/lines/L2/rules", headers=head).json()["bins"] == []


def test_rules_are_validated_and_refused_whole(client, keys):
    admin = bearer(keys["admin"])
    r = client.put("/v1/lines/L1/rules", headers=admin, json={"bins": [{"bin": "B", "min_probability": 1.5}]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "bins.0.min_probability"
    assert client.get("/v1/lines/L1/rules", headers=admin).json()["bins"] == []


def test_a_well_formed_spectrum_no_model_reads_is_recorded_invalid(client, keys):
    wl = np.linspace(1000.0, 1100.0, 500)   # beyond every model's grid
    body = {"piece_id": "ir", "line_id": "L1",
            "spectrum": {"wavelength_nm": wl.tolist(), "intensity": np.full(500, 100.0).tolist()}}
    r = client.post("/v1/pieces/classify", headers=bearer(keys["controller"]), json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["state"], out["decision"], out["bin"], out["grade"]) == ("invalid", "unknown", "recirculate", None)
    assert "nm" in out["reason"]


def test_the_line_stream_answers_each_piece_in_order(client, keys, in_process):
    grades = ["1050A", "3003", "5754"]
    with client.websocket_connect("/v1/lines/S1/stream", headers=bearer(keys["controller"])) as ws:
        for i, g in enumerate(grades):
            body = piece_body(sample(g), f"s{i}")
            del body["line_id"]
            ws.send_json(body)
            answer = ws.receive_json()
            assert (answer["piece_id"], answer["line_id"]) == (f"s{i}", "S1")
            assert answer["grade"] == in_process.classify(sample(g)).grade
        ws.send_json({"piece_id": "bad", "spectrum": {"wavelength_nm": [1, 2], "intensity": [1]}})
        problem = ws.receive_json()["problem"]
        assert problem["errors"][0]["field"] == "spectrum.intensity"
    listed = client.get("/v1/pieces", params={"line_id": "S1"}, headers=bearer(keys["quality"])).json()
    assert [p["piece_id"] for p in listed["items"]] == ["s0", "s1", "s2"]


def test_binary_batch_classifies_rows_as_the_json_batch_does(client, keys, in_process):
    head = bearer(keys["controller"])
    grades = ["1050A", "2024", "5182", "A380"]
    rows = np.stack([sample(g).intensity for g in grades]).astype("<f4")
    r = client.post("/v1/pieces/classify/batch/binary", content=rows.tobytes(),
                    headers={**head, "Content-Type": "application/octet-stream", "X-Line-Id": "L1",
                             "X-Piece-Ids": "a,b,c,d"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["piece_id"] for i in items] == ["a", "b", "c", "d"]
    for item, g in zip(items, grades, strict=True):
        assert item["grade"] == in_process.classify(sample(g)).grade
    again = client.post("/v1/pieces/classify/batch/binary", content=rows[:2].tobytes(),
                        headers={**head, "Content-Type": "application/octet-stream", "X-Line-Id": "L1",
                                 "X-Piece-Ids": "a,e"}).json()["items"]
    assert [i["replayed"] for i in again] == [True, False]
    assert again[0]["record_id"] == items[0]["record_id"]
    wrong = client.post("/v1/pieces/classify/batch/binary", content=rows[:3].tobytes(),
                        headers={**head, "Content-Type": "application/octet-stream", "X-Line-Id": "L1",
                                 "X-Piece-Ids": "f,g"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "body"
    listed = client.get("/v1/pieces", params={"line_id": "L1"}, headers=head).json()["items"]
    assert [p["piece_id"] for p in listed] == ["a", "b", "c", "d", "e"]


def test_binary_form_carries_encoder_belt_speed_and_mass_as_the_json_form_does(client, keys):
    # issue 27's hand example: 3 m/s, 1,000 counts/m, nozzle 1,200 counts downstream, valve lead 4 ms:
    # the valve fires at capture + 1,200 - 0.004 * 3 * 1,000 = capture + 1,188
    admin, head = bearer(keys["admin"]), bearer(keys["controller"])
    rules = {"ejection": {"encoder_counts_per_m": 1000, "nozzle_offset_counts": 1200, "valve_lead_time_s": 0.004}}
    assert client.put("/v1/lines/L1/rules", headers=admin, json=rules).status_code == 200
    spectrum = sample("5182")
    as_json = client.post("/v1/pieces/classify", headers=head, json=piece_body(
        spectrum, "enc-j", encoder_count=50_000, belt_speed_m_s=3.0, mass_kg=0.02)).json()
    r = client.post("/v1/pieces/classify/binary", content=spectrum.intensity.astype("<f4").tobytes(),
                    headers={**head, "Content-Type": "application/octet-stream", "X-Piece-Id": "enc-b",
                             "X-Line-Id": "L1", "X-Model": "broadband", "X-Encoder-Count": "50000",
                             "X-Belt-Speed-M-S": "3.0", "X-Mass-Kg": "0.02"})
    assert r.status_code == 200, r.text
    assert as_json["fire_count"] == r.json()["fire_count"] == 50_000 + 1_188
    bad = client.post("/v1/pieces/classify/binary", content=spectrum.intensity.astype("<f4").tobytes(),
                      headers={**head, "Content-Type": "application/octet-stream", "X-Piece-Id": "enc-x",
                               "X-Line-Id": "L1", "X-Model": "broadband", "X-Belt-Speed-M-S": "-1"})
    assert bad.status_code == 422 and "belt" in bad.text.lower()
    assert client.put("/v1/lines/L1/rules", headers=admin, json={}).status_code == 200
