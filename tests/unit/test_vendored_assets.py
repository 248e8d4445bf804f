"""The pages' third-party assets (``make`` copies them from the npm registry's packages into
``api/static/vendor``) are the versions pinned in ``web/package-lock.json``, byte for byte
what the manifest records, with their licences beside them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "api" / "static" / "vendor"


def test_the_vendored_files_match_the_manifest_and_the_lock_file() -> None:
    assert (VENDOR / "MANIFEST.json").exists(), "run `make setup` (npm ci + web/vendor.py)"
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())["packages"]
    names = {p["name"] for p in manifest["packages"]}
    assert names == {"echarts", "@fontsource/noto-sans-sc"}
    for package in manifest["packages"]:
        assert package["version"] == lock[f"node_modules/{package['name']}"]["version"]
        assert package["license"] in ("Apache-2.0", "OFL-1.1")
        assert any(f.endswith("LICENSE") for f in package["files"])
        for name, digest in package["files"].items():
            assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    css = (VENDOR / "fonts.css").read_text()
    assert "url(fonts/" in css and "./files/" not in css and "format('woff')" not in css
