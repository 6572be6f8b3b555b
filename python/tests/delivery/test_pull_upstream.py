"""pull_upstream.sh against throwaway git repositories: an upstream reached over file://,
a downstream that imports a directory of it, edits it, and imports again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "pull_upstream.sh"
ENV = {
    "PATH": os.environ["PATH"],
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def write(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


MAIN_PY = "".join(f"line {i}\n" for i in range(1, 21))


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    repo = tmp_path / "upstream"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(
        repo,
        {
            "LICENSE": "MIT License\n",
            "connectors/source-x/main.py": MAIN_PY,
            "connectors/source-x/README.md": "source-x\n",
            "connectors/other/ignored.txt": "not imported\n",
        },
        "upstream one",
    )
    return repo


@pytest.fixture
def downstream(tmp_path: Path) -> Path:
    repo = tmp_path / "downstream"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"README.md": "downstream\n"}, "start")
    return repo


def pull(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=repo, env=ENV, capture_output=True, text=True, timeout=60
    )


def pull_x(
    repo: Path, upstream: Path, ref: str = "main", *extra: str
) -> subprocess.CompletedProcess[str]:
    url = f"file://{upstream}"
    return pull(repo, *extra, url, ref, "connectors/source-x", "source-x", "MIT", "LICENSE")


def trailers(repo: Path, rev: str = "HEAD") -> dict[str, str]:
    text = git(repo, "log", "-1", "--format=%(trailers:only,unfold)", rev)
    return dict(line.split(": ", 1) for line in text.splitlines() if line)


def assert_untouched(repo: Path, head: str) -> None:
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""


def test_first_import_of_a_branch_records_where_it_came_from(
    downstream: Path, upstream: Path
) -> None:
    done = pull_x(downstream, upstream)
    assert done.returncode == 0, done.stderr
    assert (downstream / "source-x" / "main.py").read_text() == MAIN_PY
    assert (downstream / "source-x" / "LICENSE").read_text() == "MIT License\n"  # copied in
    assert not (downstream / "source-x" / "ignored.txt").exists()
    assert trailers(downstream) == {
        "Upstream-Remote": f"file://{upstream}",
        "Upstream-Ref": "main",
        "Upstream-Commit": git(upstream, "rev-parse", "main"),
        "Upstream-Path": "connectors/source-x",
        "Upstream-Dest": "source-x",
        "License-Id": "MIT",
        "License-Path": "LICENSE",
    }
    assert git(downstream, "log", "-1", "--format=%s").startswith("Import source-x from upstream")
    assert git(downstream, "status", "--porcelain") == ""


def test_reimport_merges_only_upstream_changes_and_keeps_local_edits(
    downstream: Path, upstream: Path
) -> None:
    assert pull_x(downstream, upstream).returncode == 0
    local = MAIN_PY.replace("line 2\n", "line 2 edited here\n")
    commit(downstream, {"source-x/main.py": local, "source-x/ours.txt": "ours\n"}, "local edit")
    git(downstream, "rm", "-q", "source-x/README.md")
    git(downstream, "commit", "-q", "-m", "we do not want the readme")

    theirs = MAIN_PY.replace("line 19\n", "line 19 changed upstream\n")
    new = commit(
        upstream,
        {"connectors/source-x/main.py": theirs, "connectors/source-x/new.py": "new\n"},
        "two",
    )
    git(upstream, "rm", "-q", "connectors/other/ignored.txt")
    git(upstream, "commit", "-q", "-m", "unrelated upstream change")

    done = pull_x(downstream, upstream)
    assert done.returncode == 0, done.stderr
    merged = (downstream / "source-x" / "main.py").read_text()
    assert "line 2 edited here\n" in merged and "line 19 changed upstream\n" in merged
    assert (downstream / "source-x" / "new.py").read_text() == "new\n"
    assert (downstream / "source-x" / "ours.txt").exists()
    assert not (downstream / "source-x" / "README.md").exists()  # unchanged upstream: stays deleted
    record = trailers(downstream)
    assert record["Upstream-Commit"] == git(upstream, "rev-parse", "main") != new
    assert git(downstream, "log", "-1", "--format=%s").startswith("Update source-x")
    assert git(downstream, "status", "--porcelain") == ""


def test_nothing_new_upstream_is_not_an_error(downstream: Path, upstream: Path) -> None:
    assert pull_x(downstream, upstream).returncode == 0
    head = git(downstream, "rev-parse", "HEAD")
    done = pull_x(downstream, upstream)
    assert done.returncode == 0
    assert "is up to date" in done.stderr
    assert_untouched(downstream, head)


def test_a_conflict_changes_nothing_unless_asked_to_keep_it(
    downstream: Path, upstream: Path
) -> None:
    assert pull_x(downstream, upstream).returncode == 0
    commit(downstream, {"source-x/main.py": MAIN_PY.replace("line 5\n", "ours\n")}, "local")
    commit(upstream, {"connectors/source-x/main.py": MAIN_PY.replace("line 5\n", "theirs\n")}, "up")
    head = git(downstream, "rev-parse", "HEAD")

    done = pull_x(downstream, upstream)
    assert done.returncode == 1
    assert "conflict with local edits in: source-x/main.py" in done.stderr
    assert "--keep-conflicts" in done.stderr
    assert_untouched(downstream, head)

    done = pull_x(downstream, upstream, "main", "--keep-conflicts")
    assert done.returncode == 1
    assert "<<<<<<<" in (downstream / "source-x" / "main.py").read_text()
    message = (downstream / ".git" / "PULL_UPSTREAM_MSG").read_text()
    assert f"Upstream-Commit: {git(upstream, 'rev-parse', 'main')}" in message


def test_a_tag_a_commit_id_and_a_short_commit_id_all_work(downstream: Path, upstream: Path) -> None:
    first = git(upstream, "rev-parse", "HEAD")
    git(upstream, "tag", "-a", "v1.0", "-m", "release")
    commit(upstream, {"connectors/source-x/later.py": "later\n"}, "after the tag")

    done = pull_x(downstream, upstream, "v1.0")
    assert done.returncode == 0, done.stderr
    assert trailers(downstream)["Upstream-Commit"] == first  # the tag peeled to its commit
    assert not (downstream / "source-x" / "later.py").exists()

    second = git(upstream, "rev-parse", "HEAD")
    commit(upstream, {"connectors/source-x/latest.py": "latest\n"}, "newest")
    assert pull_x(downstream, upstream, second).returncode == 0
    assert trailers(downstream)["Upstream-Commit"] == second
    assert (downstream / "source-x" / "later.py").exists()
    assert not (downstream / "source-x" / "latest.py").exists()

    done = pull_x(downstream, upstream, git(upstream, "rev-parse", "--short=8", "HEAD"))
    assert done.returncode == 0, done.stderr
    assert (downstream / "source-x" / "latest.py").exists()
    assert git(downstream, "for-each-ref", "refs/pull-upstream/") == ""  # scratch refs removed


def test_a_branch_with_a_slash_from_a_named_remote(downstream: Path, upstream: Path) -> None:
    git(upstream, "checkout", "-q", "-b", "release/2024")
    tip = commit(upstream, {"connectors/source-x/rel.py": "rel\n"}, "release branch")
    git(upstream, "checkout", "-q", "main")
    git(downstream, "remote", "add", "up", f"file://{upstream}")
    done = pull(
        downstream,
        "up",
        "up/release/2024",
        "connectors/source-x/",
        "./source-x/",
        "mit",
        "./LICENSE",
    )
    assert done.returncode == 0, done.stderr
    record = trailers(downstream)
    assert (record["Upstream-Ref"], record["Upstream-Commit"]) == ("release/2024", tip)
    assert (record["Upstream-Path"], record["Upstream-Dest"], record["License-Id"]) == (
        "connectors/source-x",
        "source-x",
        "MIT",
    )


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (
            ["main", "connectors/source-x", "source-x", "Bogus-1.0", "LICENSE"],
            "'Bogus-1.0' is not on the SPDX licence list",
        ),
        (["main", "connectors/source-x", "source-x", "", "LICENSE"], "the licence id is empty"),
        (
            ["main", "connectors/source-x", "source-x", "MIT", "COPYING"],
            "the licence file 'COPYING' does not exist",
        ),
        (
            ["no-such-branch", "connectors/source-x", "source-x", "MIT", "LICENSE"],
            "cannot fetch 'no-such-branch'",
        ),
        (
            ["deadbeef", "connectors/source-x", "source-x", "MIT", "LICENSE"],
            "commit 'deadbeef' is not on any branch or tag",
        ),
        (
            ["main", "connectors/nope", "source-x", "MIT", "LICENSE"],
            "'connectors/nope' does not exist",
        ),
        (["main", "LICENSE", "source-x", "MIT", "LICENSE"], "is a file, not a directory"),
        (
            ["main", "connectors/source-x", "README.md", "MIT", "LICENSE"],
            "README.md already exists and was not imported",
        ),
        (["main", "connectors/source-x", "../elsewhere", "MIT", "LICENSE"], "paths are relative"),
        (["main", "connectors/source-x", ".", "MIT", "LICENSE"], "not its root"),
    ],
)
def test_failures_are_clear_and_change_nothing(
    downstream: Path, upstream: Path, args: list[str], complaint: str
) -> None:
    head = git(downstream, "rev-parse", "HEAD")
    done = pull(downstream, f"file://{upstream}", *args)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("pull_upstream.sh: ") and complaint in last, done.stderr
    assert_untouched(downstream, head)


def test_an_unreachable_remote_is_a_clear_error(downstream: Path, tmp_path: Path) -> None:
    done = pull(downstream, f"file://{tmp_path}/missing", "main", "a", "b", "MIT", "LICENSE")
    assert done.returncode == 1
    assert "cannot fetch 'main' from file://" in done.stderr


def test_uncommitted_work_is_never_mixed_into_the_import(downstream: Path, upstream: Path) -> None:
    assert pull_x(downstream, upstream).returncode == 0
    commit(upstream, {"connectors/source-x/more.py": "more\n"}, "more")
    (downstream / "source-x" / "main.py").write_text("dirty\n")
    done = pull_x(downstream, upstream)
    assert done.returncode == 1 and "source-x has uncommitted changes" in done.stderr
    git(downstream, "checkout", "-q", "--", "source-x/main.py")

    write(downstream, {"elsewhere.txt": "staged\n"})
    git(downstream, "add", "elsewhere.txt")
    done = pull_x(downstream, upstream)
    assert done.returncode == 1 and "the index has staged changes" in done.stderr


def test_a_failing_commit_rolls_the_import_back(downstream: Path, upstream: Path) -> None:
    hook = downstream / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'hook says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    head = git(downstream, "rev-parse", "HEAD")
    done = pull_x(downstream, upstream)
    assert done.returncode == 1
    assert "git commit failed, nothing was changed: hook says no" in done.stderr
    assert_untouched(downstream, head)
    assert not (downstream / "source-x").exists()


@pytest.mark.parametrize("script", [SCRIPT, ROOT / "python" / "pull_upstream.sh"])
def test_help_and_usage(tmp_path: Path, script: Path) -> None:
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: ./pull_upstream.sh [--keep-conflicts] REMOTE REF")
    done = subprocess.run(
        [str(script), "only", "two"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 2
    assert "expected 6 arguments, got 2" in done.stderr
