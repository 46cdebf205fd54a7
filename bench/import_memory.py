"""Import memory benchmark: peak RSS of `hiscrm db import` on generated big snapshots.

    .venv/bin/python bench/import_memory.py              # 200 MB and 50 MB snapshots
    .venv/bin/python bench/import_memory.py --mb 400 100 # other sizes

It writes original-format snapshots (PROTOCOL.md §7) of the given sizes, streamed to a file in
a temporary directory (the generator holds one record at a time), then runs the real command,
`python -m app db import FILE`, in a fresh home for each, and prints its peak resident memory
(that child's ru_maxrss) and its records per second. The goal is memory that does not grow with
the file: the import streams it (ijson), so a 200 MB file peaks at the same RSS as a 50 MB one
(before streaming, a 200 MB file peaked at 1.5 GB). Nothing is asserted. See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_MB = 300  # peak RSS of the import process, whatever the file's size


def write_snapshot(path: Path, megabytes: float) -> int:
    """A snapshot of about `megabytes`: 20 works, their comments, 200 DM conversations."""
    target = megabytes * 1_000_000
    count = 0
    with path.open("w", encoding="utf-8") as f:
        f.write('{"accountId": "acc-bench-import", "platform": "douyin", "timestamp": 1717000000000, '
                '"snapshot": {"platform": "douyin", "data": {"contents": [')
        f.write(", ".join(json.dumps({"contentId": f"v-{w}", "type": "video", "title": f"作品 {w}",
                                      "publishTime": 1716000000000 + w}) for w in range(20)))
        f.write('], "conversations": [')
        f.write(", ".join(json.dumps({"conversationId": f"peer-{p}", "userId": f"peer-{p}",
                                      "userName": f"客户 {p}"}) for p in range(200)))
        f.write('], "comments": [')
        while f.tell() < target * 0.7:
            if count:
                f.write(", ")
            f.write(json.dumps({
                "commentId": f"c-{count}", "contentId": f"v-{count % 20}", "authorId": f"fan-{count % 5000}",
                "authorName": f"粉丝 {count % 5000}", "content": f"这个多少钱？comment {count} " * 3,
                "likeCount": count % 7, "isAuthorReply": False, "isRead": count % 3 == 0,
                "createdAt": 1716100000 + count, "rawData": {"cid": str(count), "digg": count % 7}},
                ensure_ascii=False))
            count += 1
        f.write('], "messages": [')
        first = True
        while f.tell() < target:
            if not first:
                f.write(", ")
            first = False
            f.write(json.dumps({
                "messageId": f"m-{count}", "conversationId": f"peer-{count % 200}", "senderId": f"peer-{count % 200}",
                "senderName": f"客户 {count % 200}", "type": "text", "content": f"在吗？message {count} " * 3,
                "direction": "inbound", "isRead": False, "createdAt": 1716100000000 + count}, ensure_ascii=False))
            count += 1
        f.write('], "notifications": []}}}')
    return count + 220


def run_import(snapshot: Path, home: Path) -> tuple[float, float, str]:
    """(peak RSS in MB, seconds, last line printed) of one `hiscrm db import`; the peak is
    that child's own ru_maxrss (os.wait4), not the largest of all children so far."""
    env = {**os.environ, "HISCRM_HOME": str(home)}
    output_file = home.parent / f"{home.name}.out"
    started = time.perf_counter()
    with output_file.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "app", "db", "import", str(snapshot)],
                                   cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    lines = output_file.read_text().strip().splitlines()
    return usage.ru_maxrss / 1024, elapsed, lines[-1] if lines else f"exit {process.returncode}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, nargs="+", default=[50, 200],
                        help="snapshot sizes in MB, smallest first (default: 50 200)")
    args = parser.parse_args()
    print(f"import memory (goal: peak RSS < {GOAL_MB} MB, the same for every size)")
    with tempfile.TemporaryDirectory(prefix="hiscrm-bench-import-") as tmp:
        for megabytes in sorted(args.mb):
            snapshot = Path(tmp) / f"snapshot-{megabytes:g}mb.json"
            records = write_snapshot(snapshot, megabytes)
            size = snapshot.stat().st_size / 1e6
            peak, elapsed, last = run_import(snapshot, Path(tmp) / f"home-{megabytes:g}")
            print(f"  {size:6.0f} MB, {records:>9,} records: peak RSS {peak:6.0f} MB "
                  f"(goal < {GOAL_MB}), {records / elapsed:8,.0f} records/s, {elapsed:6.1f} s")
            print(f"      {last}")
            snapshot.unlink()


if __name__ == "__main__":
    main()
