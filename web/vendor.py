"""Copy the pages' third-party assets from ``web/node_modules`` (``npm ci``) into
``api/static/vendor``, where the API serves them: nothing is fetched from a CDN at run time.

- Apache ECharts: ``echarts/echarts.min.js`` with its LICENSE and NOTICE.
- Noto Sans SC (SIL Open Font License 1.1), weights 400 and 700, as the package ships it: split
  into unicode-range subsets (woff2), so a page downloads only the subsets its text uses;
  ``fonts.css`` declares them.
- ``MANIFEST.json``: each package's name, version, licence, and the SHA-256 of every file
  copied (a test checks the files against it).

Run by ``make`` (``make setup``) after ``npm ci --prefix web``; idempotent.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

WEB = Path(__file__).resolve().parent
MODULES = WEB / "node_modules"
OUT = WEB.parent / "api" / "static" / "vendor"
FONT_WEIGHTS = (400, 700)
_FONT_URL = re.compile(
    r"url\(\./files/([\w.-]+\.woff2)\) format\('woff2'\)(?:, url\([^)]*\) format\('woff'\))?"
)


def _package(name: str) -> dict[str, str]:
    meta = json.loads((MODULES / name / "package.json").read_text("utf-8"))
    return {"name": name, "version": meta["version"], "license": meta.get("license", "")}


def _copy(source: Path, target: Path, files: dict[str, str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    files[target.relative_to(OUT).as_posix()] = hashlib.sha256(target.read_bytes()).hexdigest()


def _echarts() -> dict[str, object]:
    files: dict[str, str] = {}
    root = MODULES / "echarts"
    _copy(root / "dist" / "echarts.min.js", OUT / "echarts" / "echarts.min.js", files)
    for name in ("LICENSE", "NOTICE"):
        _copy(root / name, OUT / "echarts" / name, files)
    return {**_package("echarts"), "files": files}


def _font() -> dict[str, object]:
    files: dict[str, str] = {}
    root = MODULES / "@fontsource" / "noto-sans-sc"
    css: list[str] = ["/* Noto Sans SC (SIL OFL 1.1), from @fontsource/noto-sans-sc: woff2 only */"]
    for weight in FONT_WEIGHTS:
        text = (root / f"{weight}.css").read_text("utf-8")
        for name in _FONT_URL.findall(text):
            _copy(root / "files" / name, OUT / "fonts" / name, files)
        css.append(_FONT_URL.sub(lambda m: f"url(fonts/{m.group(1)}) format('woff2')", text))
    licence = next(p for p in ("LICENSE", "LICENSE.md", "OFL.txt") if (root / p).exists())
    _copy(root / licence, OUT / "fonts" / "LICENSE", files)
    (OUT / "fonts.css").write_text("\n".join(css), "utf-8")
    files["fonts.css"] = hashlib.sha256((OUT / "fonts.css").read_bytes()).hexdigest()
    return {**_package("@fontsource/noto-sans-sc"), "files": files}


def main() -> int:
    if not MODULES.is_dir():
        print("web/node_modules is missing: run `npm ci --prefix web` first", file=sys.stderr)
        return 1
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    packages = [_echarts(), _font()]
    (OUT / "MANIFEST.json").write_text(json.dumps({"packages": packages}, indent=1) + "\n")
    count = sum(len(files) for p in packages if isinstance(files := p["files"], dict))
    names = ", ".join(f"{p['name']} {p['version']}" for p in packages)
    print(f"vendored {names}: {count} files into {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
