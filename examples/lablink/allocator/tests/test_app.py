from lablink_allocator.app import app


def test_health():
    res = app.test_client().get("/health")
    assert res.status_code == 200
    assert res.get_json()["status"] == "ok"


def test_request_vm():
    client = app.test_client()
    res = client.post("/vms/request", json={"user": "ada"})
    assert res.status_code == 200
    assert res.get_json()["user"] == "ada"


def test_set_in_use():
    client = app.test_client()
    res = client.post("/vms/vm-2/in-use", json={"in_use": True})
    assert res.status_code == 200
    assert res.get_json() == {"vm": "vm-2", "in_use": True}
    assert client.get("/vms/vm-2").get_json()["in_use"] is True
    res = client.post("/vms/vm-2/in-use", json={"in_use": False})
    assert res.get_json() == {"vm": "vm-2", "in_use": False}
    assert client.get("/vms/vm-2").get_json()["in_use"] is False


def test_set_in_use_unknown_vm():
    res = app.test_client().post("/vms/vm-99/in-use", json={"in_use": True})
    assert res.status_code == 404
    assert "vm-99" in res.get_json()["error"]


def test_set_in_use_needs_a_bool():
    client = app.test_client()
    for body in ({}, {"in_use": "yes"}, {"in_use": 1}, {"in_use": None}, ["in_use"]):
        res = client.post("/vms/vm-1/in-use", json=body)
        assert res.status_code == 400, body
    assert client.post("/vms/vm-1/in-use", data="not json").status_code == 400


def test_get_vm():
    client = app.test_client()
    res = client.get("/vms/vm-3")
    assert res.status_code == 200
    assert set(res.get_json()) == {"vm", "user", "in_use"}
    assert client.get("/vms/vm-99").status_code == 404


def test_existing_routes_keep_their_shape():
    client = app.test_client()
    client.post("/vms/vm-1/in-use", json={"in_use": True})
    vms = client.get("/vms").get_json()
    assert set(vms) == {"vm-1", "vm-2", "vm-3"}
    assert all(user is None or isinstance(user, str) for user in vms.values())
    # /vms/request is still POST only, not a VM called "request"
    assert client.get("/vms/request").status_code == 405
