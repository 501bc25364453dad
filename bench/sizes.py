"""Phase: ``sam build`` artifact sizes - each function's code and the layer, unzipped and zipped.

Runs ``make build`` (sam build --cached: quick when nothing changed) unless told not to, then
measures .aws-sam/build. Baseline: boto3 + botocore + s3transfer as installed here, the SDK the
Lambda runtime already ships (so a function that needed nothing else would deploy none of it).

``python -m bench.sizes CONFIG_JSON OUT_PATH``
"""

from __future__ import annotations

import io
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, log, phase_args, write_json

BUILD = ROOT / ".aws-sam" / "build"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function code + all its layers, unzipped


def tree(path: Path) -> dict[str, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    unzipped = sum(p.stat().st_size for p in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for p in files:
            z.write(p, p.relative_to(path))
    return {"files": len(files), "bytes": unzipped, "zipped_bytes": buffer.tell()}


def top_level(path: Path) -> dict[str, int]:
    """Unzipped bytes per top-level package of the layer's python/ directory."""
    out: dict[str, int] = {}
    for child in sorted((path / "python").iterdir()):
        if child.name.endswith(".dist-info"):
            continue
        size = (
            child.stat().st_size if child.is_file() else sum(p.stat().st_size for p in child.rglob("*") if p.is_file())
        )
        out[child.name] = size
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def sdk_size() -> int:
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    return sum(
        p.stat().st_size
        for name in ("boto3", "botocore", "s3transfer")
        for p in (site / name).rglob("*")
        if p.is_file()
    )


def main() -> None:
    cfg, out_path = phase_args()
    from revisit_dev.template import load_template

    result: dict[str, Any] = {"built": False}
    if cfg.build:
        started = time.perf_counter()
        proc = subprocess.run(["make", "build"], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
        result["build_seconds"] = round(time.perf_counter() - started, 1)
        result["built"] = proc.returncode == 0
        if proc.returncode != 0:
            result["build_error"] = (proc.stdout + proc.stderr)[-1500:]
            log("make build failed; measuring .aws-sam/build as it is")
    template = load_template()
    functions: dict[str, Any] = {}
    for fn in template.functions:
        path = BUILD / fn.logical_id
        row: dict[str, Any] = {"logical_id": fn.logical_id, "source_exists": fn.handler_file.is_file()}
        if path.is_dir():
            row |= tree(path)
            row["stale"] = any(
                p.stat().st_mtime > path.stat().st_mtime + 1 for p in fn.code_dir.rglob("*.py") if p.is_file()
            )
        else:
            row["missing"] = True
        functions[fn.code_dir.name] = row
    layer = BUILD / "RevisitLayer"
    result["functions"] = functions
    if layer.is_dir():
        result["layer"] = tree(layer) | {"packages": top_level(layer)}
        result["layer"]["pyc_files"] = sum(1 for _ in layer.rglob("*.pyc"))
    result["sdk_baseline_bytes"] = sdk_size()
    result["lambda_unzipped_limit_bytes"] = LAMBDA_UNZIPPED_LIMIT
    log(f"layer {result.get('layer', {}).get('bytes')} bytes unzipped; {len(functions)} functions")
    write_json(out_path, result)


if __name__ == "__main__":
    main()
