import sys

from streamcommon.script import fix_script_path


def test_the_script_folder_leaves_sys_path_and_src_comes_last(tmp_path, monkeypatch):
    folder = tmp_path / "src" / "svc"
    folder.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(folder), "/lib/site-packages"])
    fix_script_path(str(folder / "main.py"))
    assert sys.path == ["/lib/site-packages", str(tmp_path / "src")]


def test_another_first_entry_stays(tmp_path, monkeypatch):
    folder = tmp_path / "src" / "svc"
    folder.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", ["", "/lib/site-packages"])
    fix_script_path(str(folder / "main.py"))
    assert sys.path == ["", "/lib/site-packages", str(tmp_path / "src")]
