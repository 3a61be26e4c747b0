"""The demo project's WSGI module: what gunicorn's workers load."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run in a process of its own: freezing is for the whole process, and this
# one's objects belong to pytest.
SCRIPT = """
import gc, io, json, sys
from project.wsgi import application

answers = []
environ = {
    "REQUEST_METHOD": "GET", "PATH_INFO": "/mlpipeline/openapi.json",
    "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.input": io.BytesIO(),
    "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
}
body = b"".join(application(environ, lambda status, headers: answers.append(status)))
json.dump({"frozen": gc.get_freeze_count(), "status": answers[0],
           "title": json.loads(body)["info"]["title"]}, sys.stdout)
"""


def test_the_startup_objects_are_frozen_and_the_application_answers(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
    }

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )

    result = json.loads(done.stdout)
    # Django and the apps leave tens of thousands of objects after startup.
    assert result["frozen"] > 10_000
    assert result["status"] == "200 OK"
    assert (
        result["title"]
        == json.loads((ROOT / "mlpipeline" / "openapi.json").read_text())["info"][
            "title"
        ]
    )
