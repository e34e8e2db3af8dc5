"""POST /api/projects/{id}/import with gold_field: gold items on import, bad answers refused whole."""

from __future__ import annotations


def _project(api, labels: list[str]) -> dict:  # type: ignore[no-untyped-def, type-arg]
    r = api.post("/api/projects", json={"name": "p", "labels": labels})
    assert r.status_code == 201
    return r.json()  # type: ignore[no-any-return]


def _import_with_gold(api, project_id: int, body: bytes):  # type: ignore[no-untyped-def]
    files = {"file": ("g.jsonl", body)}
    return api.post(f"/api/projects/{project_id}/import", files=files, data={"gold_field": "truth"})


def test_import_with_gold_field(api) -> None:  # type: ignore[no-untyped-def]
    p = _project(api, ["pos", "neg"])
    body = b'{"text": "a", "truth": "pos"}\n{"text": "b"}\n'
    r = _import_with_gold(api, p["id"], body)
    assert r.status_code == 201
    assert (r.json()["created"], r.json()["gold"]) == (2, 1)
    listed = api.get(f"/api/projects/{p['id']}/gold").json()
    assert [(g["text"], g["value"]) for g in listed] == [("a", {"label": "pos"})]


def test_unknown_gold_label_is_422_naming_line_and_field(api) -> None:  # type: ignore[no-untyped-def]
    p = _project(api, ["pos", "neg"])
    body = b'{"text": "a", "truth": "pos"}\n{"text": "b", "truth": "POS"}\n'
    r = _import_with_gold(api, p["id"], body)
    assert r.status_code == 422
    err = r.json()["error"]
    assert (err["file"], err["line"], err["field"]) == ("g.jsonl", 2, "truth")
    assert err["message"] == "unknown label 'POS'; the project's labels are 'pos', 'neg'"
    assert api.get(f"/api/projects/{p['id']}").json()["stats"]["total"] == 0
