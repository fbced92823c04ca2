from importlib.metadata import entry_points


def test_console_scripts():
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts["subscribe"] == "lablink_client.subscribe:main"
    assert scripts["check_gpu"] == "lablink_client.check_gpu:main"
    assert scripts["update_inuse_status"] == "lablink_client.update_inuse_status:main"
