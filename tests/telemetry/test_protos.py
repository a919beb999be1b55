"""The generated gRPC modules are checked in: regenerating them from bot_core.proto with the
pinned grpcio-tools (a test dependency, tox.ini) must give the same bytes."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bot_core.control.protos as protos

GENERATED = ("bot_core_pb2.py", "bot_core_pb2.pyi", "bot_core_pb2_grpc.py")


def test_regenerating_the_stubs_gives_the_checked_in_files(tmp_path: Path) -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpcio-tools is not installed (tox.ini installs it for the test envs)")
    here = Path(protos.__file__).parent
    root = tmp_path / "src"
    package = root / "bot_core" / "control" / "protos"
    package.mkdir(parents=True)
    shutil.copy(here / "bot_core.proto", package / "bot_core.proto")
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{root}", f"--python_out={out}",
         f"--pyi_out={out}", f"--grpc_python_out={out}",
         str(package / "bot_core.proto")], capture_output=True, text=True, timeout=120,
        check=False)
    assert done.returncode == 0, done.stderr
    for name in GENERATED:
        fresh = (out / "bot_core" / "control" / "protos" / name).read_bytes()
        assert fresh == (here / name).read_bytes(), (
            f"{name} is stale: regenerate with the command in bot_core.proto")


def test_every_rpc_of_the_proto_is_served_and_guarded() -> None:
    from bot_core.control.protos import bot_core_pb2 as pb
    from bot_core.control.rbac import Role, check_guarded
    from bot_core.control.service import ControlService, TelemetryService

    roles = {}
    for cls, name in ((TelemetryService, "Telemetry"), (ControlService, "Control")):
        methods = [m.name for m in pb.DESCRIPTOR.services_by_name[name].methods]
        roles.update(check_guarded(cls, methods))
    assert roles == {"StreamMetrics": Role.VIEWER, "ListBots": Role.VIEWER,
                     "ListStrategies": Role.VIEWER, "GetRiskStatus": Role.VIEWER,
                     "PauseStrategy": Role.OPERATOR, "ResumeStrategy": Role.OPERATOR,
                     "SetTradingState": Role.ADMIN, "ClearReducing": Role.ADMIN,
                     "Promote": Role.ADMIN}
