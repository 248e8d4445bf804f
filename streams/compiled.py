"""The live fold (``streams.state``) compiled with mypyc, used only when built from the sources
that are there now.

The fold runs for every event, and in CPython most of its cost is the interpreter's: compiled
by mypyc (from the same typed source, no second implementation) it takes about a third less.
``make`` builds it (``sanjiang build-fold``) into ``streams/_compiled/<key>/``, where the
key is a digest of ``state.py``, of every module of this project it imports (transitively: the
compiled code relies on their types) and of the interpreter's version. Not of mypy's: a build
needs no mypy to run (the production image compiles the fold, then removes mypy and the C
compiler), and one made with an older mypyc is still a build of the same sources.

``activate`` (run when ``streams`` is imported) puts that folder first on the package's path if,
and only if, a build for the current key is there. An edited source therefore never runs as a
stale compiled module: it runs as Python until the next build. No build (no C compiler, a
wheel install): the same code runs as Python, a little slower.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.machinery
import sys
import sysconfig
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
#: the modules compiled (the rest of the project stays Python)
MODULES = ("streams.state",)
#: top-level packages of this project whose modules a compiled module's types may come from
PROJECT_PACKAGES = ("sanjiang", "streams")
BUILDS = PACKAGE_DIR / "_compiled"


def _source(root: Path, module: str) -> Path | None:
    """The source file of a project module, without importing it (``None``: not a file here)."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    """The project modules ``path`` (the source of ``module``) imports, as dotted names."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_bytes())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for name in names:
            parts = name.split(".")
            if parts[0] in PROJECT_PACKAGES:
                # the module and the packages above it (their __init__ runs, and re-exports)
                found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found


def sources(root: Path = ROOT) -> list[Path]:
    """The compiled modules' sources and every project module they import, transitively."""
    pending, seen, files = list(MODULES), set(MODULES), set()
    while pending:
        module = pending.pop()
        path = _source(root, module)
        if path is None:
            continue  # a name imported from a module, not a module
        files.add(path)
        for name in _imports(path, module) - seen:
            seen.add(name)
            pending.append(name)
    return sorted(files)


def build_key(root: Path = ROOT) -> str:
    """What a build is valid for: the sources and the interpreter."""
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    for path in sources(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{sys.implementation.cache_tag}-{digest.hexdigest()[:20]}"


def _complete(folder: Path) -> bool:
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    return all((folder / f"{m.rpartition('.')[2]}{suffix}").is_file() for m in MODULES)


def build_folder(root: Path = ROOT, builds: Path = BUILDS) -> Path | None:
    """The folder of the build for the current sources, if there is one."""
    folder = builds / build_key(root)
    return folder if _complete(folder) else None


def activate(package_path: list[str], root: Path = ROOT, builds: Path = BUILDS) -> bool:
    """Put the current build first on ``streams``' path, if there is one; True if so."""
    try:
        folder = build_folder(root, builds)
    except OSError:
        return False
    if folder is None:
        return False
    if str(folder) not in package_path:
        package_path.insert(0, str(folder))
    return True


def is_compiled(module: object) -> bool:
    """True if ``module`` was loaded from an extension module (a build), not from source."""
    loader = getattr(getattr(module, "__spec__", None), "loader", None)
    return isinstance(loader, importlib.machinery.ExtensionFileLoader)


def build() -> Path:
    """Compile ``MODULES`` for the current sources (if not built yet); returns the folder.

    mypyc writes next to the sources it compiles, so it runs on copies in a scratch folder:
    nothing compiled ever lands beside ``state.py`` to shadow an edited source."""
    import shutil
    import subprocess
    import tempfile

    key = build_key()
    folder = BUILDS / key
    if _complete(folder):
        return folder
    with tempfile.TemporaryDirectory(prefix="sanjiang-mypyc-") as scratch:
        work = Path(scratch)
        for package in PROJECT_PACKAGES:
            shutil.copytree(
                ROOT / package,
                work / package,
                ignore=shutil.ignore_patterns("__pycache__", "_compiled", "*.so"),
            )
        targets = [str(Path(*m.split(".")).with_suffix(".py")) for m in MODULES]
        command = [sys.executable, "-m", "mypyc", *targets]
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"mypyc failed:\n{done.stdout}\n{done.stderr}")
        staging = BUILDS / f".{key}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for built in (work / "streams").glob("*.so"):
            shutil.copy2(built, staging / built.name)
        for old in BUILDS.iterdir():  # one build at a time: the others are of older sources
            if old != staging:
                shutil.rmtree(old, ignore_errors=True)
        staging.rename(folder)
    return folder


def build_and_report() -> bool:
    """Build if needed, saying what happened; False if it could not be built (not fatal: the
    same code then runs as Python, slower)."""
    key = build_key()
    if _complete(BUILDS / key):
        print(f"compiled fold: up to date ({key})")
        return True
    print(f"compiled fold: building {', '.join(MODULES)} with mypyc ({key}) ...", flush=True)
    try:
        folder = build()
    except (RuntimeError, OSError) as error:
        print(f"compiled fold: not built, the fold runs as Python: {error}", file=sys.stderr)
        return False
    print(f"compiled fold: built in {folder.relative_to(ROOT)}")
    return True
