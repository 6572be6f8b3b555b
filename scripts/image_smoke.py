"""Image smoke test without Docker: replay python/Dockerfile for each workspace connector.

The builder stage is executed for real (its ARG, ENV, WORKDIR, COPY and RUN lines, with the
container's own paths relocated under a temporary directory and the host's uv and Python
standing in for the image's); the final stage's copies are replayed, the builder's files are
deleted, and the image's entry point then answers a Spec request. Labels, user and entry point
are checked against what Flow needs. So a broken install step or a missing COPY fails CI on a
machine without a Docker engine.

    .venv/bin/python scripts/image_smoke.py [CONNECTOR ...] [--dockerfile python/Dockerfile]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONNECTOR_PREFIXES = {
    "source-": "capture",
    "destination-": "materialize",
    "materialize-": "materialize",
}
DOCKER_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SPEC_REQUEST = b'{"spec":{"connectorType":"IMAGE","config":{}}}\n'
PROTOCOL = 3032023
# Host variables that would point the replayed build at the host's own environment.
HOST_ONLY_ENV = {
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "UV_PROJECT_ENVIRONMENT",
}


class SmokeError(Exception):
    """The image would not build or not work; the message says which step and why."""


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


def connector_type(name: str) -> str:
    """The Flow protocol of a connector, from its directory name (as build-local.sh infers it)."""
    for prefix, kind in CONNECTOR_PREFIXES.items():
        if name.startswith(prefix):
            return kind
    raise SmokeError(
        f"cannot infer the type of connector '{name}': its name must start with "
        "source- (capture), destination- or materialize- (materialize)"
    )


def workspace_connectors(root: Path = ROOT) -> list[str]:
    """Connector directories at the workspace root: a known prefix and a pyproject.toml."""
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir()
        and p.name.startswith(tuple(CONNECTOR_PREFIXES))
        and (p / "pyproject.toml").is_file()
    )


def parse_dockerfile(text: str) -> tuple[list[Instruction], list[Stage]]:
    """Split a Dockerfile into its global ARGs and its stages (continuations joined)."""
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continuation are dropped, as Docker does
        start = start or number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        instruction = Instruction(keyword.upper(), args.strip(), start)
        pending, start = "", 0
        if instruction.keyword == "FROM":
            words = instruction.args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif instruction.keyword == "ARG":
            global_args.append(instruction)
        else:
            raise SmokeError(
                f"line {instruction.line}: {instruction.keyword} before the first FROM"
            )
    if pending:
        raise SmokeError("the Dockerfile ends inside a line continuation")
    if not stages:
        raise SmokeError("the Dockerfile has no FROM")
    return global_args, stages


def substitute(text: str, variables: dict[str, str]) -> str:
    """Docker's `$VAR`, `${VAR}` and `${VAR:-default}` substitution (unset → empty)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2)
        value = variables.get(name, "")
        return value if value or default is None else default

    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)", one, text)


def parse_assignments(args: str) -> dict[str, str]:
    """`K=V K2="V 2"` (ENV, LABEL, ARG) into a dict; ARG without a default maps to None-like ''."""
    out: dict[str, str] = {}
    for word in shlex.split(args, posix=True):
        key, eq, value = word.partition("=")
        out[key] = value if eq else ""
    return out


class Replay:
    """Runs one connector's build: the Dockerfile's stages, relocated under `workdir`."""

    def __init__(self, dockerfile: Path, connector: str, workdir: Path, context: Path = ROOT):
        self.dockerfile, self.connector, self.workdir, self.context = (
            dockerfile,
            connector,
            workdir,
            context,
        )
        self.kind = connector_type(connector)
        self.build_args = {
            "CONNECTOR_NAME": connector,
            "CONNECTOR_TYPE": self.kind,
            "DOCS_URL": f"https://go.estuary.dev/{connector}",
        }
        self.global_args, self.stages = parse_dockerfile(dockerfile.read_text())
        self.ignore = _dockerignore(context)

    def stage_root(self, index: int) -> Path:
        return self.workdir / f"stage{index}"

    def run(self) -> dict[str, object]:
        variables = {}
        for instruction in self.global_args:
            for key, default in parse_assignments(instruction.args).items():
                variables[key] = self.build_args.get(key, default)
        final = len(self.stages) - 1
        check_final_stage(self.stages[final], self.kind)
        results: dict[int, dict[str, object]] = {}
        for index, stage in enumerate(self.stages):
            results[index] = self.replay_stage(index, stage, dict(variables), index == final)
        for index in range(final):  # the image must not need anything the builders kept
            remove_tree(self.stage_root(index))
        return self.start(results[final])

    def roots(self, stage: Stage, variables: dict[str, str]) -> list[str]:
        """Container paths this stage creates (WORKDIR, COPY targets, VIRTUAL_ENV): relocated."""
        found = set()
        for instruction in stage.instructions:
            if instruction.keyword == "WORKDIR":
                found.add(substitute(instruction.args, variables))
            elif instruction.keyword == "COPY":
                target = shlex.split(instruction.args)[-1]
                found.add(substitute(target, variables).rstrip("/") or "/")
            elif instruction.keyword == "ENV":
                value = parse_assignments(instruction.args).get("VIRTUAL_ENV")
                if value:
                    found.add(substitute(value, variables))
        return sorted((r for r in found if r.startswith("/") and r != "/"), key=len, reverse=True)

    def relocate(self, text: str, index: int, roots: list[str]) -> str:
        for root in roots:
            pattern = rf"(?<![\w./-]){re.escape(root)}(?=/|$|[^\w.-])"
            text = re.sub(pattern, lambda _m, r=root: str(self.stage_root(index)) + r, text)
        return text

    def replay_stage(
        self, index: int, stage: Stage, variables: dict[str, str], final: bool
    ) -> dict:
        root = self.stage_root(index)
        root.mkdir(parents=True)
        roots = self.roots(stage, {**variables, **self.build_args})
        env: dict[str, str] = {"PATH": DOCKER_DEFAULT_PATH}  # what the base image starts with
        cwd = root
        state: dict[str, object] = {
            "labels": {},
            "user": "root",
            "entrypoint": None,
            "roots": roots,
        }
        for instruction in stage.instructions:
            where = f"{self.dockerfile.name} line {instruction.line} ({instruction.keyword})"
            scope = {**variables, **env}
            if instruction.keyword == "ARG":
                for key, default in parse_assignments(instruction.args).items():
                    variables[key] = self.build_args.get(key, variables.get(key) or default)
            elif instruction.keyword == "ENV":
                for key, value in parse_assignments(instruction.args).items():
                    env[key] = self.relocate(substitute(value, scope), index, roots)
            elif instruction.keyword == "WORKDIR":
                cwd = Path(self.relocate(substitute(instruction.args, scope), index, roots))
                cwd.mkdir(parents=True, exist_ok=True)
            elif instruction.keyword == "COPY":
                self.copy(instruction.args, scope, index, roots, cwd, where)
            elif instruction.keyword == "RUN":
                if not final:
                    self.run_shell(instruction.args, variables, env, index, roots, cwd, where)
            elif instruction.keyword == "LABEL":
                state["labels"].update(
                    {
                        k: substitute(v, scope)
                        for k, v in parse_assignments(instruction.args).items()
                    }
                )
            elif instruction.keyword == "USER":
                state["user"] = substitute(instruction.args, scope)
            elif instruction.keyword == "ENTRYPOINT":
                state["entrypoint"] = [
                    self.relocate(a, index, roots) for a in json.loads(instruction.args)
                ]
            else:
                raise SmokeError(
                    f"{where}: the replay does not support {instruction.keyword}; "
                    "teach scripts/image_smoke.py or keep to ARG/ENV/WORKDIR/COPY/RUN"
                )
        state.update(env=env, cwd=cwd, variables=variables)
        return state

    def copy(
        self, args: str, scope: dict, index: int, roots: list[str], cwd: Path, where: str
    ) -> None:
        words = [substitute(w, scope) for w in shlex.split(args)]
        flags = {w.split("=", 1)[0]: w.partition("=")[2] for w in words if w.startswith("--")}
        paths = [w for w in words if not w.startswith("--")]
        sources, target = paths[:-1], paths[-1]
        if "--from" in flags:
            names = {s.name: i for i, s in enumerate(self.stages) if s.name}
            if flags["--from"] not in names:
                raise SmokeError(
                    f"{where}: COPY --from={flags['--from']} is not a stage of this file"
                )
            other = names[flags["--from"]]
            other_roots = self.roots(self.stages[other], {**scope, **self.build_args})
            resolved = [Path(self.relocate(s, other, other_roots)) for s in sources]
        else:
            resolved = [self.context / s for s in sources]
        base = Path(self.relocate(target, index, roots)) if target.startswith("/") else cwd / target
        for source in resolved:
            if not source.exists():
                raise SmokeError(f"{where}: COPY source {source} does not exist")
            if source.is_dir() and "--from" in flags and not base.exists():
                # Builder stages are discarded before the image runs: moving is copying here,
                # and saves copying (then deleting) hundreds of megabytes of virtualenv.
                base.parent.mkdir(parents=True, exist_ok=True)
                source.rename(base)
            elif source.is_dir():
                shutil.copytree(
                    source, base, symlinks=True, dirs_exist_ok=True, ignore=self.ignored
                )
            else:
                into = base / source.name if target.endswith("/") or len(sources) > 1 else base
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, into)

    def ignored(self, directory: str, names: list[str]) -> set[str]:
        try:
            relative = Path(directory).relative_to(self.context)
        except ValueError:
            return set()  # copies between stages ignore .dockerignore, as in Docker
        return {
            n for n in names if any(_matches((relative / n).as_posix(), p) for p in self.ignore)
        }

    def run_shell(
        self,
        args: str,
        variables: dict,
        env: dict,
        index: int,
        roots: list[str],
        cwd: Path,
        where: str,
    ) -> None:
        command = re.sub(r"^(\s*--\w+(=\S+)?\s+)+", "", args)  # --mount/--network: Docker-only
        command = self.relocate(command, index, roots)
        uv = shutil.which("uv")
        if not uv:
            raise SmokeError("uv is not on PATH: the replay uses the host's uv for the image's")
        process_env = {
            **{
                k: v for k, v in os.environ.items() if k not in HOST_ONLY_ENV
            },  # caches, TLS, proxies
            **variables,
            **env,
            "PATH": os.pathsep.join([str(Path(uv).parent), os.environ.get("PATH", "")]),
            "PYTHON": sys.executable,  # the host's interpreter stands in for the image's python3
        }
        done = subprocess.run(
            ["/bin/sh", "-c", command], cwd=cwd, env=process_env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SmokeError(f"{where} failed (exit {done.returncode}):\n{done.stderr.strip()}")

    def start(self, final: dict) -> dict[str, object]:
        """Run the image's entry point as Flow does: a Spec request on stdin, then EOF."""
        env = dict(final["env"])
        env.setdefault("HOME", str(final["cwd"]))
        started = time.monotonic()
        done = subprocess.run(
            final["entrypoint"],
            input=SPEC_REQUEST,
            cwd=final["cwd"],
            env=env,
            capture_output=True,
            timeout=120,
        )
        elapsed = time.monotonic() - started
        stderr = done.stderr.decode(errors="replace").strip()
        if done.returncode != 0:
            raise SmokeError(
                f"the entry point exited {done.returncode} on a Spec request:\n{stderr}"
            )
        spec = _spec_response(done.stdout, self.kind)
        if env.get("DOCS_URL") != self.build_args["DOCS_URL"]:
            raise SmokeError("the final stage does not set DOCS_URL from the DOCS_URL build arg")
        return {
            "connector": self.connector,
            "type": self.kind,
            "spec_seconds": round(elapsed, 2),
            "documentationUrl": spec.get("documentationUrl"),
        }


def check_final_stage(stage: Stage, kind: str) -> None:
    """What Flow and our rules need of the image, before spending time on the build."""
    labels: dict[str, str] = {}
    user, entrypoint = "root", None
    for instruction in stage.instructions:
        if instruction.keyword == "LABEL":
            labels.update(parse_assignments(instruction.args))
        elif instruction.keyword == "USER":
            user = instruction.args.strip()
        elif instruction.keyword == "ENTRYPOINT":
            entrypoint = instruction.args
    protocol = substitute(labels.get("FLOW_RUNTIME_PROTOCOL", ""), {"CONNECTOR_TYPE": kind})
    if protocol != kind:
        raise SmokeError(
            f"the final stage must LABEL FLOW_RUNTIME_PROTOCOL={kind} (from CONNECTOR_TYPE)"
        )
    if labels.get("FLOW_RUNTIME_CODEC") != "json":
        raise SmokeError("the final stage must LABEL FLOW_RUNTIME_CODEC=json")
    if user.split(":")[0] in ("root", "0", ""):
        raise SmokeError("the final stage must switch to a non-root USER")
    if not entrypoint or not entrypoint.startswith("["):
        raise SmokeError(
            "the final stage needs an exec-form ENTRYPOINT [...] so signals reach Python"
        )


def _spec_response(stdout: bytes, kind: str) -> dict:
    lines = stdout.splitlines()
    if len(lines) != 1:
        raise SmokeError(f"expected exactly one response line to a Spec request, got {len(lines)}")
    if kind == "capture":
        from flow_sdk.protocol.capture import Response
    else:
        from flow_sdk.protocol.materialize import Response
    from flow_sdk.protocol.wire import ProtocolError, parse_message

    try:
        response = parse_message(Response, lines[0], strict=True)
    except ProtocolError as exc:
        raise SmokeError(f"the Spec response is not valid Flow protocol: {exc}") from exc
    if response.variant != "spec":
        raise SmokeError(f"expected a spec response, got {response.variant}")
    spec = json.loads(lines[0])["spec"]
    if spec.get("protocol") != PROTOCOL:
        raise SmokeError(f"the Spec response must carry protocol {PROTOCOL}")
    return spec


def _dockerignore(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.exists():
        return []
    patterns = [p.strip() for p in path.read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    if any(p.startswith("!") for p in patterns):
        raise SmokeError(".dockerignore exceptions (!pattern) are not supported by the replay")
    return [p.strip("/") for p in patterns]


def _matches(relative: str, pattern: str) -> bool:
    if pattern.startswith("**/"):
        tail = pattern[3:]
        parts = relative.split("/")
        return any(fnmatch.fnmatchcase("/".join(parts[i:]), tail) for i in range(len(parts)))
    return fnmatch.fnmatchcase(relative, pattern)


def scratch_dir() -> str | None:
    """Memory-backed /dev/shm when it has room (creating and deleting a virtualenv's files on
    a busy disk costs more than the install itself), else the default temporary directory."""
    try:
        roomy = shutil.disk_usage("/dev/shm").free > 2 * 1024**3
    except OSError:
        return None
    return "/dev/shm" if roomy and os.access("/dev/shm", os.W_OK) else None


def remove_tree(path: Path) -> None:
    """rm -rf: much faster than shutil.rmtree on a virtualenv's tens of thousands of files."""
    subprocess.run(["rm", "-rf", "--", str(path)], check=False)


def smoke(connector: str, dockerfile: Path, context: Path = ROOT, keep: bool = False) -> dict:
    """Replay the image build of `connector` and run its Spec; raise SmokeError on failure."""
    workdir = Path(tempfile.mkdtemp(prefix=f"image-smoke-{connector}-", dir=scratch_dir()))
    started = time.monotonic()
    try:
        result = Replay(dockerfile, connector, workdir, context).run()
    finally:
        if not keep:
            remove_tree(workdir)
    result["total_seconds"] = round(time.monotonic() - started, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("connectors", nargs="*", help="connector directories (default: all)")
    parser.add_argument("--dockerfile", type=Path, default=ROOT / "python" / "Dockerfile")
    parser.add_argument(
        "--context", type=Path, default=ROOT, help="the build context (workspace root)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the replayed file systems")
    options = parser.parse_args(argv)
    connectors = options.connectors or workspace_connectors(options.context)
    if not connectors:
        print("image_smoke: no connector directories in the workspace yet", file=sys.stderr)
        return 0
    failed = 0
    for connector in connectors:
        try:
            print(json.dumps(smoke(connector, options.dockerfile, options.context, options.keep)))
        except SmokeError as exc:
            failed += 1
            print(f"image_smoke: {connector}: {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
