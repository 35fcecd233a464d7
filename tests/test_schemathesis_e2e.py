"""Schemathesis against the real server's /openapi.json: every operation, a bounded number of examples
each, all checks (no 5xx, only documented status codes, bodies and headers as the schema says, valid
requests answered, invalid ones refused). Runs offline: the schema and the API are on loopback."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

MAX_EXAMPLES = 30
SEED = 20261203  # fixed, so that a failure here is a failure on every run (the output shows how to replay it)


def test_schemathesis_finds_nothing(live_server, tmp_path):
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{live_server}/openapi.json", "--checks", "all",
         "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1", "--request-timeout", "30",
         "--report", "junit", "--report-dir", str(tmp_path / "report")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout
    assert "Tested: 4" in run.stdout  # /api/search, /api/documents/{doc_id}, /api/references, /api/references/{key}
