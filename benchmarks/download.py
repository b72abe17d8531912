"""Throughput and memory of ``dpkg download`` / ``dpkg verify`` on a large release served from 127.0.0.1.

Usage: .venv/bin/python benchmarks/download.py [--mb 100]

Writes a release (zip with one CSV resource of about --mb MB, SHA256SUMS) into a temporary
folder, serves it with the test server (tests/release_server.py) and runs the real console
script: a clean download, one cut off halfway (resumed with Range), one cut off on a server that
ignores Range (restarted), one cut off with ``--retries 0`` (the run gives up and keeps its bytes)
and the next run (which resumes them), then ``dpkg verify`` of the result. Prints wall time, MB/s and the
peak RSS of each dpkg process.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.release_server import Behaviour, ReleaseServer  # noqa: E402
from tests.releases import release_files  # noqa: E402

DPKG = str(Path(sys.executable).parent / "dpkg")


def big_zip(folder: Path, megabytes: int) -> bytes:
    """A zip holding a package whose one CSV resource has about ``megabytes`` MB of random rows."""
    rows = [b"id,token\n"]
    size, index = 0, 0
    while size < megabytes << 20:
        line = b"%d,%s\n" % (index, os.urandom(24).hex().encode())
        rows.append(line)
        size, index = size + len(line), index + 1
    data = b"".join(rows)
    descriptor = (
        '{"name": "big", "version": "1.0.0", "resources": [{"name": "rows", "path": "rows.csv", "format": "csv", '
        f'"schema": {{"fields": [{{"name": "id", "type": "integer"}}, {{"name": "token", "type": "string"}}]}}, '
        f'"bytes": {len(data)}, "hash": "sha256:{hashlib.sha256(data).hexdigest()}"}}]}}'
    )
    path = folder / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("datapackage.json", descriptor)
        archive.writestr("rows.csv", data)
    return path.read_bytes()


def run(args: list[str]) -> tuple[float, int, float]:
    """Wall seconds, exit code and peak RSS (MB) of one dpkg run, in a fresh small process.

    The child is started from a small Python process (not this one, which holds the test data),
    so its peak RSS is its own.
    """
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "c = subprocess.run(sys.argv[1:], capture_output=True).returncode; "
             "print(time.perf_counter() - t, c, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, DPKG, *args], capture_output=True, text=True, check=True)
    seconds, code, rss = out.stdout.split()
    return float(seconds), int(code), int(rss) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="size of the CSV resource in MB")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["DPKG_CACHE_DIR"] = str(folder / "partial")  # not the user's cache
        zip_data = big_zip(folder, options.mb)
        files = release_files(zip_data)
        name = next(p for p in files if p.endswith(".zip"))
        mb = len(zip_data) / 1e6
        print(f"release zip: {mb:.1f} MB (resource {options.mb} MiB uncompressed)")
        cases = {
            "clean download": Behaviour(files),
            "cut off halfway, resumed (Range)": Behaviour(files, drop={name: 1}),
            "cut off halfway, Range ignored (restart)": Behaviour(files, ranges=False, drop={name: 1}),
        }
        for label, behaviour in cases.items():
            out = folder / label.replace(" ", "_")
            with ReleaseServer(behaviour) as server:
                seconds, code, rss = run(["download", server.url(), "--to", str(out), "--quiet", "--backoff", "0"])
            print(f"{label:42s} exit {code}  {seconds:6.2f} s  {mb / seconds:6.1f} MB/s of zip  peak RSS {rss:4.0f} MB")
        out = folder / "two_runs"
        with ReleaseServer(Behaviour(files, drop={name: 1})) as server:
            for label in ("run 1: cut off, gives up, keeps bytes", "run 2: resumes the kept bytes"):
                seconds, code, rss = run(["download", server.url(), "--to", str(out), "--quiet", "--retries", "0"])
                print(f"{label:42s} exit {code}  {seconds:6.2f} s  {'':17s}  peak RSS {rss:4.0f} MB")
            ranges = [rng for path, rng, _status in server.log if path == name]
        print(f"{'':42s} requests for the zip: {ranges}")
        seconds, code, rss = run(["verify", str(out)])
        print(f"{'dpkg verify (the downloaded folder)':42s} exit {code}  {seconds:6.2f} s  {'':17s}  peak RSS {rss:4.0f} MB")


if __name__ == "__main__":
    main()
