"""Concurrent uploads through one gateway: distinct paths, and one contended path.

An upload is atomic and a PUT replaces atomically, so after racing writers a
path holds exactly one writer's content, and a reader racing a replace sees
the old or the new file, never a mix.
"""

import threading

from cluster import CHUNK, assert_same_bytes, payload, sha256

THREADS = 8
JOIN_TIMEOUT = 90.0


def run_threads(fn, n):
    """Runs fn(i) on n threads started together; returns results by index."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def body(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except BaseException as e:  # reported by the caller
            results[i] = e

    threads = [threading.Thread(target=body, args=(i,), daemon=True)
               for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
        assert not t.is_alive(), "upload thread still running after deadline"
    for i, r in enumerate(results):
        if isinstance(r, BaseException):
            raise AssertionError(f"thread {i} raised {r!r}") from r
    return results


def test_parallel_uploads_distinct_paths(gw, ns):
    contents = [payload(CHUNK // 2 + i * 200_001, seed=300 + i)
                for i in range(THREADS)]
    results = run_threads(lambda i: gw.put(f"{ns}/f{i}", contents[i]), THREADS)
    for i, r in enumerate(results):
        assert r.status == 201, (i, r)
        assert r.json()["sha256"] == sha256(contents[i]), (i, r)
    for i, data in enumerate(contents):
        g = gw.get(f"{ns}/f{i}")
        assert g.status == 200, (i, g)
        assert_same_bytes(g.body, data, f"f{i}")
    listing = gw.list(ns).json()
    assert sorted(e["name"] for e in listing["entries"]) == sorted(
        f"f{i}" for i in range(THREADS))


def test_parallel_uploads_same_path(gw, ns):
    path = f"{ns}/contended"
    # Distinct lengths too, so a length from one writer and bytes from another
    # cannot pass as a match.
    contents = [payload(CHUNK + i * 100_003, seed=400 + i) for i in range(THREADS)]
    by_sha = {sha256(c): c for c in contents}
    results = run_threads(lambda i: gw.put(path, contents[i]), THREADS)
    for i, r in enumerate(results):
        assert r.status == 201, (i, r)

    g = gw.get(path)
    assert g.status == 200, g
    got = sha256(g.body)
    assert got in by_sha, (
        f"content ({len(g.body)} bytes, sha256 {got}) matches no upload")
    winner = by_sha[got]
    assert len(g.body) == len(winner)
    assert g.header("X-Checksum-Sha256").lower() == got, g.headers
    info = gw.fileinfo(path).json()
    assert info["sha256"] == got and info["size"] == len(winner), info
    entries = gw.list(ns).json()["entries"]
    assert [e["name"] for e in entries] == ["contended"], entries


def test_readers_see_old_or_new_during_replace(gw, ns):
    path = f"{ns}/hot"
    versions = [payload(CHUNK + 50_000 * i + 1, seed=500 + i) for i in range(6)]
    known = {sha256(v) for v in versions}
    assert gw.put(path, versions[0]).status == 201

    done = threading.Event()
    problems = []
    reads = [0]

    def writer():
        try:
            for v in versions[1:]:
                r = gw.put(path, v)
                if r.status != 201:
                    problems.append(f"replace failed: {r!r}")
        except Exception as e:
            problems.append(f"writer raised {e!r}")
        finally:
            done.set()

    def reader():
        while not done.is_set():
            try:
                g = gw.get(path)
            except Exception as e:
                problems.append(f"reader raised {e!r}")
                return
            reads[0] += 1
            if g.status != 200:
                problems.append(f"read during replace: {g!r}")
            elif sha256(g.body) not in known:
                problems.append(
                    f"read a mix: {len(g.body)} bytes, sha256 {sha256(g.body)}")
            elif g.header("X-Checksum-Sha256").lower() != sha256(g.body):
                problems.append(
                    f"header sha {g.header('X-Checksum-Sha256')} does not match "
                    f"the body it came with (sha256 {sha256(g.body)})")

    threads = [threading.Thread(target=writer, daemon=True)] + [
        threading.Thread(target=reader, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
        assert not t.is_alive(), "thread still running after deadline"
    assert not problems, problems[:5]
    assert reads[0] > 0
    assert_same_bytes(gw.get(path).body, versions[-1])
