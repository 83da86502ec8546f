"""Kernels that talk over Unix sockets at a private, absolute path.

With several graders starting kernels at once, jupyter_client's TCP port pick can race and a kernel
then "dies before replying". Plain ``transport = "ipc"`` is no cure: its default socket path is
relative ("kernel-ipc-N"), and nbgrader starts each kernel in the notebook's folder while the client
stays in the course folder, so the two never meet. Here the sockets sit next to the kernel's own
connection file (unique name, in Jupyter's runtime folder), and are removed with it.
"""

from __future__ import annotations

import os
import uuid

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import default


class IpcKernelManager(AsyncKernelManager):
    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("connection_file")
    def _default_connection_file(self) -> str:
        runtime = jupyter_runtime_dir()
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        return os.path.join(runtime, f"kernel-iome-{uuid.uuid4()}.json")
