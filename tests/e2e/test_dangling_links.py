"""A committed link whose target is missing, on the real engine: a glob input
leaves it out of the key and the build context with one warning naming it; an
input that names it as it is stays an error naming it."""

import os

from test_images_bad import proj, service  # noqa: F401  (fixture and helper)
from test_lablink import engine  # noqa: F401  (the module fixture)

WARNING = "dbx: warning: docs/link is a link to 'missing-file', which does not exist: left out of the build"


def image_of(engine, key):  # noqa: F811
    ids = engine.docker("images", "-q", "--filter", f"label=dbx.key={key}").stdout.split()
    assert ids, key
    return ids[0]


def listing(engine, image, folder):  # noqa: F811
    return engine.docker("run", "--rm", "--network", "host", "--entrypoint", "sh", image, "-c",
                         f"cd {folder} && ls -A docs").stdout.split()


def test_glob_leaves_the_link_out_and_warns_once(proj, engine):  # noqa: F811
    proj.write("docs/readme.md", "hello\n")
    os.symlink("missing-file", proj.path("docs/link"))
    proj.recipe('''\
        image "ctx" {
          inputs = { "**" },
          dockerfile = "FROM python:3.11-slim\\nCOPY . /ctx/\\n",
        }
        ''')
    r = proj.build("ctx", timeout=300)
    assert r.code == 0, r
    assert r.err.count(WARNING) == 1, r
    assert listing(engine, image_of(engine, r.of("finish")[0]["key"]), "/ctx") == ["readme.md"]

    again = proj.build("ctx")  # from the cached graph: still said, still cached
    assert again.status == {"ctx": "cached"}, again
    assert again.err.count(WARNING) == 1, again

    proj.write("docs/missing-file", "now here\n")  # the link leads somewhere: it is an input again
    fixed = proj.build("ctx", timeout=300)
    assert fixed.status == {"ctx": "built"}, fixed
    assert "warning" not in fixed.err, fixed
    files = listing(engine, image_of(engine, fixed.of("finish")[0]["key"]), "/ctx")
    assert files == ["link", "missing-file", "readme.md"], files


def test_link_named_as_it_is_stays_an_error(proj):  # noqa: F811
    proj.path("docs").mkdir()
    os.symlink("missing-file", proj.path("docs/link"))
    proj.recipe('''\
        image "ctx" {
          inputs = { "docs/link" },
          dockerfile = "FROM python:3.11-slim\\nCOPY . /ctx/\\n",
        }
        ''')
    r = proj.run("build", "ctx")
    assert r.code == 2, r
    assert "input 'docs/link' is a link to 'missing-file', which does not exist" in r.err, r


def test_python_service_sources_skip_the_link(proj, engine):  # noqa: F811
    service(proj)
    proj.write("app/docs/readme.md", "hello\n")
    os.symlink("missing-file", proj.path("app/docs/link"))
    r = proj.build("svc/prod", timeout=600)
    assert r.code == 0, r
    assert r.err.count("dbx: warning: app/docs/link is a link to 'missing-file', which does not exist") == 1, r
    # the source layer holds the project's tree as the build context brought it
    key = [e["key"] for e in r.of("finish") if e["target"] == "svc/prod/source"][0]
    workdir = engine.docker("image", "inspect", "-f", "{{.Config.WorkingDir}}", image_of(engine, key)).stdout.strip()
    assert listing(engine, image_of(engine, key), workdir or "/") == ["readme.md"]
