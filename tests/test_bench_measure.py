"""The bench's sampler: a child's memory and the disk it fills then frees are both seen."""

import os
import sys

from bench.measure import run_measured
from bench.run_bench import folder_bytes

MB = 1_000_000

# Holds 300 MB, writes a 400 MB file, keeps both for 1.5 s, then deletes the file before it ends:
# the folder's size afterwards says nothing of it; only sampling the free space sees it.
CHILD = """
import os, sys, time
held = b"x" * 300_000_000
path = sys.argv[1]
with open(path, "wb") as out:
    for _ in range(40):
        out.write(b"y" * 10_000_000)
    out.flush()
    os.fsync(out.fileno())
time.sleep(1.5)
os.remove(path)
"""


def test_run_measured_sees_the_memory_held_and_the_disk_filled_then_freed(tmp_path):
    measured = run_measured([sys.executable, "-c", CHILD, str(tmp_path / "spill.bin")], disk=tmp_path)

    assert measured.returncode == 0
    assert not (tmp_path / "spill.bin").exists()
    assert measured.peak_rss_bytes >= 300 * MB
    assert max(measured.peak_by_command.values()) >= 300 * MB
    # 400 MB written; other tests may free space meanwhile, so only most of it is asserted.
    assert measured.disk_growth_bytes >= 250 * MB


def test_run_measured_does_not_sample_the_disk_unless_asked(tmp_path):
    measured = run_measured([sys.executable, "-c", CHILD, str(tmp_path / "spill.bin")])

    assert measured.returncode == 0
    assert measured.disk_growth_bytes == 0


def test_folder_bytes_counts_each_file_once(tmp_path):
    # A BI copy's new version hard-links the partitions it kept and has a `current` link to it.
    old, new = tmp_path / "v1", tmp_path / "v2"
    old.mkdir()
    new.mkdir()
    (old / "kept.parquet").write_bytes(b"k" * 1000)
    (old / "replaced.parquet").write_bytes(b"r" * 300)
    os.link(old / "kept.parquet", new / "kept.parquet")
    (new / "replaced.parquet").write_bytes(b"n" * 200)
    (tmp_path / "current").symlink_to(new, target_is_directory=True)

    assert folder_bytes(tmp_path) == 1000 + 300 + 200
    assert folder_bytes(old / "kept.parquet") == 1000
