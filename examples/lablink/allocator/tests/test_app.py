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
