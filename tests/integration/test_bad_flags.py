"""Daemons given bad flags or an unusable data directory exit with status 2
and one clear line on stderr: no crash, no signal, nothing started.

(A master whose Master::Open failed used to crash in its destructor with
SIGSEGV instead of reporting why.)
"""

import subprocess

import pytest

from cluster import BIN_DIR

LOOPBACK = ["--listen", "127.0.0.1:0", "--http_listen", "127.0.0.1:0"]


def run(binary, *args):
    p = subprocess.run([str(BIN_DIR / binary), *args], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr


@pytest.fixture
def a_file(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("not a directory")
    return f


def test_master_rejects_dead_after_not_above_stale_after(tmp_path):
    code, err = run("cairn-master", "--root_dir", str(tmp_path / "m"), *LOOPBACK,
                    "--stale_after", "5s", "--dead_after", "5s")
    assert code == 2, err
    assert "dead_after must exceed stale_after" in err


@pytest.mark.parametrize("flag,value,message", [
    ("--chunk_size", "0", "chunk_size"),
    ("--chunk_size", "12parsecs", "12parsecs"),
    ("--stale_after", "soon", "soon"),
    ("--gc_grace", "-3s", "-3s"),
])
def test_master_rejects_bad_values(tmp_path, flag, value, message):
    code, err = run("cairn-master", "--root_dir", str(tmp_path / "m"), *LOOPBACK, flag, value)
    assert code == 2, err
    assert message in err


def test_master_reports_an_unusable_root_dir(a_file):
    code, err = run("cairn-master", "--root_dir", str(a_file / "m"), *LOOPBACK)
    assert code == 2, err
    assert "Not a directory" in err


def test_chunkserver_reports_an_unusable_root_dir(a_file):
    code, err = run("cairn-chunkserver", "--root_dir", str(a_file / "cs"), *LOOPBACK,
                    "--master", "127.0.0.1:1")
    assert code == 2, err
    assert "Not a directory" in err


@pytest.mark.parametrize("args,message", [
    (["--master", "", "--listen", "127.0.0.1:0"], "no master address"),
    (["--master", "127.0.0.1:1", "--listen", "999999"], "bad port"),
    (["--master", "127.0.0.1:1", "--max_json_body", "lots"], "lots"),
    (["--master", "127.0.0.1:1", "--read_stall_timeout", "0s"], "must be positive"),
    (["--master", "127.0.0.1:1", "--small_file_max", "tiny"], "tiny"),
    (["--master", "127.0.0.1:1", "--small_file_max", "9MiB"], "small_file_max must be at most"),
])
def test_gateway_rejects_bad_addresses(args, message):
    code, err = run("cairn-gateway", *args)
    assert code == 2, err
    assert message in err
