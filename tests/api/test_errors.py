"""Bad input gets RFC 9457 problem+json naming the field and the reason, and writes nothing."""

from __future__ import annotations

import json

import pytest

from tests.api.support import bearer, piece_body, sample


def post_raw(client, key, text: str, path: str = "/v1/pieces/classify"):
    return client.post(path, content=text.encode(), headers={**bearer(key), "Content-Type": "application/json"})


def records(client, keys, line_id: str = "L1") -> list:
    return client.get("/v1/pieces", params={"line_id": line_id}, headers=bearer(keys["quality"])).json()["items"]


def spectrum_body(wavelength_nm, intensity) -> dict:
    return {"piece_id": "p", "line_id": "L1", "spectrum": {"wavelength_nm": wavelength_nm, "intensity": intensity}}


@pytest.mark.parametrize(("body", "field", "reason"), [
    (spectrum_body([300.0, 301.0, 302.0], [1.0, 2.0]), "spectrum.intensity", "2 values for 3 wavelengths"),
    (spectrum_body([300.0, 302.0, 301.0], [1.0, 2.0, 3.0]), "spectrum.wavelength_nm", "not strictly increasing"),
    (spectrum_body([300.0, 300.0, 301.0], [1.0, 2.0, 3.0]), "spectrum.wavelength_nm", "not strictly increasing"),
    (spectrum_body([300.0, 301.0, 302.0], [1.0, "lots", 3.0]), "spectrum.intensity.1", "valid number"),
    (spectrum_body([300.0, 301.0, 302.0], [1.0, None, 3.0]), "spectrum.intensity.1", "valid number"),
    (spectrum_body([300.0, 301.0], [1.0, 2.0]) | {"line_id": "L 1"}, "line_id", "pattern"),
    (spectrum_body([300.0, 301.0], [1.0, 2.0]) | {"mass_kg": -1}, "mass_kg", "greater than or equal to 0"),
    (spectrum_body([300.0, 301.0], [1.0, 2.0]) | {"captured_at": "2026-12-06T10:00:00"}, "captured_at", "timezone"),
    ({"line_id": "L1", "spectrum": {"wavelength_nm": [1.0, 2.0], "intensity": [1.0, 2.0]}}, "piece_id", "required"),
])
def test_malformed_pieces_get_422_naming_the_field(client, keys, body, field, reason):
    r = client.post("/v1/pieces/classify", headers=bearer(keys["controller"]), json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 422 and problem["title"] == "Unprocessable Content"
    assert problem["errors"][0]["field"] == field
    assert reason in problem["errors"][0]["reason"]
    assert field in problem["detail"]
    assert records(client, keys) == []


@pytest.mark.parametrize(("where", "token"), [("intensity", "NaN"), ("intensity", "Infinity"),
                                              ("wavelength_nm", "NaN")])
def test_nan_and_infinity_get_422_naming_the_point(client, keys, where, token):
    values = {"wavelength_nm": "[300.0, 301.0, 302.0]", "intensity": "[1.0, 2.0, 3.0]"}
    values[where] = values[where].replace("2.0" if where == "intensity" else "301.0", token)
    text = ('{"piece_id": "p", "line_id": "L1", "spectrum": {"wavelength_nm": ' + values["wavelength_nm"]
            + ', "intensity": ' + values["intensity"] + "}}")
    r = post_raw(client, keys["controller"], text)
    assert r.status_code == 422, r.text
    err = r.json()["errors"][0]
    assert err["field"] == f"spectrum.{where}" and "point 1" in err["reason"] and "finite" in err["reason"]
    assert records(client, keys) == []


def test_a_body_that_is_not_json_gets_422(client, keys):
    r = post_raw(client, keys["controller"], '{"piece_id": ')
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


def test_a_batch_with_one_bad_piece_is_refused_whole(client, keys):
    good = piece_body(sample("5182"), "g1")
    bad = spectrum_body([300.0, 301.0, 302.0], [1.0, 2.0]) | {"piece_id": "g2"}
    r = client.post("/v1/pieces/classify/batch", headers=bearer(keys["controller"]), json={"pieces": [good, bad]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "pieces.1.spectrum.intensity"
    assert records(client, keys) == []


def test_a_batch_over_the_limit_is_refused_naming_pieces(app, client, keys):
    app.state.settings.max_batch_pieces = 2
    pieces = [spectrum_body([300.0, 301.0], [1.0, 2.0]) | {"piece_id": str(i)} for i in range(3)]
    r = client.post("/v1/pieces/classify/batch", headers=bearer(keys["controller"]), json={"pieces": pieces})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "pieces"
    assert records(client, keys) == []


def test_bodies_over_the_size_limit_get_413_before_they_are_read(app, client, keys):
    limit = app.state.settings.max_body_bytes
    n = limit // 8 + 10
    body = json.dumps(spectrum_body([300.0 + i * 0.001 for i in range(n)], [1.0] * n))
    assert len(body) > limit
    r = post_raw(client, keys["controller"], body)
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert str(limit) in r.json()["detail"]

    # chunked, no Content-Length: counted as it arrives
    def chunks():
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536].encode()
    r = client.post("/v1/pieces/classify", content=chunks(),
                    headers={**bearer(keys["controller"]), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert records(client, keys) == []


def test_binary_form_refuses_a_wrong_length_nan_and_missing_ids(client, keys):
    head = {**bearer(keys["controller"]), "Content-Type": "application/octet-stream", "X-Piece-Id": "b",
            "X-Line-Id": "L1"}
    x = sample("5182").intensity.astype("<f4")
    r = client.post("/v1/pieces/classify/binary", content=x[:-1].tobytes(), headers=head)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    assert str(4 * x.size) in r.json()["detail"]
    y = x.copy()
    y[17] = float("nan")
    r = client.post("/v1/pieces/classify/binary", content=y.tobytes(), headers=head)
    assert r.status_code == 422 and "value 17" in r.json()["detail"]
    r = client.post("/v1/pieces/classify/binary", content=x.tobytes(),
                    headers={k: v for k, v in head.items() if k != "X-Piece-Id"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "header.x-piece-id"
    r = client.post("/v1/pieces/classify/binary", content=x.tobytes(), headers={**head, "X-Model": "nope"})
    assert r.status_code == 404 and "broadband" in r.json()["detail"]
    assert records(client, keys) == []


def test_paging_refuses_a_bad_cursor_and_limit(client, keys):
    head = bearer(keys["quality"])
    r = client.get("/v1/pieces", params={"line_id": "L1", "after": "abc"}, headers=head)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.after"
    r = client.get("/v1/pieces", params={"line_id": "L1", "limit": 0}, headers=head)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.limit"
