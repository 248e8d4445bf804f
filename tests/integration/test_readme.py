"""The README's first requests, run as written (bash and curl) against the API under uvicorn
with its sink: the kiosk's event is accepted, the analyst logs in and the query answers with
the event counted."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from sanjiang.settings import Settings
from tests.api_process import ROOT, api_process

pytestmark = pytest.mark.integration


def first_requests() -> list[str]:
    """The ``sh`` blocks of the README's "First requests" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## First requests", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def test_the_readmes_first_requests_work_as_written(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    ingest, query = first_requests()
    with api_process(kafka_settings, tmp_path, hosts_sink=True) as settings:
        env = {
            **os.environ,
            "SANJIANG_VAR_DIR": str(settings.var_dir),
            "SANJIANG_TOPIC_PREFIX": settings.topic_prefix,
            "SANJIANG_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
            "PASSWORD": "a long analyst password",
        }

        def run(block: str) -> str:
            here = f"127.0.0.1:{settings.api_port}"  # the README's address is make up's
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block.replace("127.0.0.1:8000", here)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, result.stderr
            return result.stdout

        assert '"accepted":1' in run(ingest)
        deadline = time.monotonic() + 60
        while True:  # the sink writes the event: the query counts it
            answer = run(query)
            if '"checkin.recorded",1' in answer:
                break
            assert answer.startswith('"type","n"'), answer
            assert time.monotonic() < deadline, answer
            time.sleep(0.5)
            query = query.split("\n", 1)[1]  # the analyst exists now: log in and ask again
