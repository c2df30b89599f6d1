"""The `cairn` CLI against a real cluster: tests/cli/cli_roundtrip.sh
(put/get/cat/ls/mv/stat/du/rm/cluster and its error cases: missing file,
unreachable gateway, bad path)."""

import os
import subprocess
from pathlib import Path

from cluster import BIN_DIR

ROUNDTRIP = Path(__file__).resolve().parent.parent / "cli" / "cli_roundtrip.sh"


def test_cli_roundtrip(cluster):
    env = dict(os.environ, CAIRN_BIN_DIR=str(BIN_DIR),
               CAIRN_GATEWAY=f"http://{cluster.gateway.http}", CAIRN_RT_BIG_MB="3")
    r = subprocess.run(["bash", str(ROUNDTRIP)], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, f"stdout:\n{r.stdout[-4000:]}\nstderr:\n{r.stderr[-4000:]}"
    assert "ok - " in r.stdout
