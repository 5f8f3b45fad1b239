"""`tfopt search ... --workers N`: a chief and N workers on this machine (loopback), each
worker on its own share of the CPU cores (and of the GPUs, `--gpus-per-trial`), their
output prefixed, waited for together."""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading

from tfopt.scale.roles import TOKEN_ENV
from tfopt.errors import InputError
from tfopt.log import logger

_OWN_FLAGS = ("--workers", "--gpus-per-trial", "--out", "--chief-address")


def launch(argv, workers, out, gpus_per_trial=0):
    """Runs `tfopt search` with `argv` as a chief and `workers` workers on the run folder
    `out`; returns the chief's exit code (a worker that fails is reported, and the chief
    gives its trial to another)."""
    gpus = visible_gpus()
    if gpus_per_trial and gpus_per_trial * workers > len(gpus):
        raise InputError(f"--gpus-per-trial {gpus_per_trial} with --workers {workers} needs "
                         f"{gpus_per_trial * workers} GPUs; {len(gpus)} are visible. Use fewer "
                         "workers or GPUs per trial.")
    address = f"127.0.0.1:{_free_port()}"
    env = dict(os.environ, **{TOKEN_ENV: secrets.token_urlsafe(32)})
    base = [sys.executable, "-m", "tfopt", "search", *_without_own_flags(argv), "--out", out,
            "--chief-address", address]
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    logger.info(f"launching a chief and {workers} worker(s) on {address}, run folder {out}")
    chief = _start(base + ["--chief"], env, "chief")
    children = [chief]
    for k in range(workers):
        worker_env = dict(env)
        if gpus_per_trial:
            worker_env["CUDA_VISIBLE_DEVICES"] = ",".join(
                gpus[k * gpus_per_trial:(k + 1) * gpus_per_trial])
        share = (cores[k * len(cores) // workers:(k + 1) * len(cores) // workers] or
                 cores[k % len(cores):k % len(cores) + 1]) if cores else None
        children.append(_start(base + ["--worker", str(k + 1)], worker_env, f"worker {k + 1}",
                               cpus=share))
    try:
        code = chief.wait()
        for child in children[1:]:
            if code != 0 and child.poll() is None:
                child.terminate()
            child.wait()
    except KeyboardInterrupt:
        for child in children:
            child.terminate()
        raise
    for child in children:
        child.relay.join(timeout=10)
    for k, child in enumerate(children[1:], 1):
        if child.returncode:
            logger.warning(f"worker {k} exited with code {child.returncode}")
    return code


def visible_gpus():
    """GPU ids this machine shows (CUDA_VISIBLE_DEVICES, else `nvidia-smi -L`), without
    importing TensorFlow."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        return [g for g in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip()]
    if shutil.which("nvidia-smi") is None:
        return []
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return [str(i) for i, line in enumerate(listing.stdout.splitlines()) if line.startswith("GPU")]


def _without_own_flags(argv):
    kept, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item in _OWN_FLAGS:
            skip = True
        elif not item.startswith(tuple(f"{flag}=" for flag in _OWN_FLAGS)):
            kept.append(item)
    return kept


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(command, env, name, cpus=None):
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, bufsize=1, preexec_fn=preexec)
    child.relay = threading.Thread(target=_relay, args=(child.stdout, f"[{name}] "), daemon=True)
    child.relay.start()
    return child


def _relay(stream, prefix):
    """Passes a child process's own output on, each line prefixed with its role."""
    for line in stream:
        sys.stdout.write(prefix + line)
        sys.stdout.flush()
