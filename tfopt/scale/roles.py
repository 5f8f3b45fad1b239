"""Chief and worker settings, checked before anything heavy loads (no gRPC, no TensorFlow)."""

from tfopt.durable import check_name
from tfopt.errors import InputError

__all__ = ["DEFAULT_ADDRESS", "TOKEN_ENV", "check_role", "parse_address"]

DEFAULT_ADDRESS = "127.0.0.1:8470"  # the chief binds loopback unless told otherwise
TOKEN_ENV = "TFOPT_CHIEF_TOKEN"


def parse_address(text):
    """(host, port) from "HOST:PORT".

    Raises:
        InputError: for anything else.
    """
    host, _, port = str(text).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--chief-address must be HOST:PORT, e.g. 127.0.0.1:8470. "
                         f"Received: {text!r}")
    return host.strip("[]"), int(port)


def check_role(chief=False, worker=None, address=None, budget=None):
    """Checks a chief/worker request before anything is loaded.

    Raises:
        InputError: for both roles at once, a worker without the chief's address, a
            bad address or worker id, or a wall-clock budget (not supported here yet).
    """
    if not chief and worker is None:
        return
    if chief and worker is not None:
        raise InputError("A process is either the chief (--chief) or a worker (--worker ID), "
                         "not both. Start one process of each.")
    if worker is not None:
        check_name("worker id", str(worker))
        if not address:
            raise InputError("--worker needs --chief-address HOST:PORT (the address the chief "
                             "printed when it started).")
    parse_address(address or DEFAULT_ADDRESS)
    if budget:
        raise InputError("--budget is not supported with --chief/--worker yet; bound a "
                         "distributed search with --max-trials instead.")
