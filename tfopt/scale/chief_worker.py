"""Many trials at once on keras-tuner's chief/worker engine, secured and fault tolerant.

`tfopt search ... --chief` serves the oracle over gRPC; processes started with
`--worker ID --chief-address HOST:PORT` on the same run folder ask it for trials
and train them. keras-tuner's own chief answers anyone, can hang for good after
one failing request (its lock has no try/finally), never gives a dead worker's
trial to another, and re-runs running trials when restarted. Here:

- every request carries a shared token (`TFOPT_CHIEF_TOKEN`, or the run folder's
  `chief.token`, written by the chief with owner-only permissions), and the chief
  binds 127.0.0.1 unless given another address;
- a trial is updated or ended only by the worker it was given to, and only while
  it runs; a malformed or unknown-trial request gets an error and the chief
  keeps serving;
- workers send a heartbeat; a worker silent for `lease_seconds` loses its trial
  to the queue (the next worker resumes it from its last finished epoch);
- a restarted chief keeps running trials with their workers (the owners are in
  oracle.json) instead of starting them again.
"""

import collections
import contextlib
import hmac
import os
import pathlib
import secrets
import threading
import time
from concurrent import futures

import grpc
import keras

from tfopt import _compat
from tfopt.durable import check_name
from tfopt.errors import InputError, SearchError
from tfopt.scale.roles import DEFAULT_ADDRESS, TOKEN_ENV, parse_address
from tfopt.tuning.recovery import failure_reason
from tfopt.log import logger

protos = _compat.keras_tuner_private("protos")
oracle_chief = _compat.keras_tuner_private("distribute.oracle_chief")
oracle_client = _compat.keras_tuner_private("distribute.oracle_client")
oracle_module = _compat.keras_tuner_private("engine.oracle")
trial_module = _compat.keras_tuner_private("engine.trial")

TOKEN_FILE = "chief.token"
LEASE_ENV = "TFOPT_LEASE_SECONDS"
LEASE_SECONDS = 120.0  # a worker silent this long loses its trial
HEARTBEAT_SECONDS = 5.0
_TOKEN_KEY, _TUNER_KEY, _HEARTBEAT_KEY = "tfopt-token", "tfopt-tuner-id", "tfopt-heartbeat"


@contextlib.contextmanager
def role(chief=False, worker=None, address=None):
    """keras-tuner's `KERASTUNER_*` variables for a chief or worker ID while the tuner is
    made and searches (nothing for a single process); yields the tuner id or None."""
    if not chief and worker is None:
        yield None
        return
    host, port = parse_address(address or DEFAULT_ADDRESS)
    tuner_id = "chief" if chief else f"tuner{worker}"
    names = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(zip(names, (tuner_id, host, str(port))))
    try:
        yield tuner_id
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def connect(tuner, run_dir):
    """Points a worker's tuner at the chief, with the token and a heartbeat."""
    tuner.oracle = WorkerClient(tuner.oracle._oracle, worker_token(run_dir))


def serve_search(tuner, run_dir, address=None):
    """The chief's part of the search: serves the oracle until every trial has ended."""
    tuner.oracle.verbose = 0
    tuner.save()
    serve(tuner.oracle, address or DEFAULT_ADDRESS, chief_token(run_dir))


def chief_token(run_dir):
    """The chief's token: `TFOPT_CHIEF_TOKEN`, else `run_dir/chief.token`, made if absent."""
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    path = pathlib.Path(run_dir, TOKEN_FILE)
    if not path.exists():
        token = secrets.token_urlsafe(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(token)
    return path.read_text().strip()


def worker_token(run_dir, wait_seconds=120.0):
    """A worker's token: `TFOPT_CHIEF_TOKEN`, else the run folder's `chief.token` (waiting
    for a starting chief to write it).

    Raises:
        InputError: when neither appears in time.
    """
    path = pathlib.Path(run_dir, TOKEN_FILE)
    deadline = time.monotonic() + wait_seconds
    while not os.environ.get(TOKEN_ENV) and not path.is_file():
        if time.monotonic() > deadline:
            raise InputError(f"No chief token: set {TOKEN_ENV}, or start the chief on the same "
                             f"--out first (it writes {path}).")
        time.sleep(0.5)
    return os.environ.get(TOKEN_ENV) or path.read_text().strip()


def lease_seconds():
    value = os.environ.get(LEASE_ENV)
    try:
        return float(value) if value else LEASE_SECONDS
    except ValueError:
        raise InputError(f"{LEASE_ENV} must be a number of seconds. Received: {value!r}") \
            from None


@contextlib.contextmanager
def oracle_lock(oracle):
    """keras-tuner's per-oracle lock (the one `@synchronized` takes), released even when
    the body raises, which keras-tuner's own decorator does not do."""
    name = threading.current_thread().name
    if oracle_module.THREADS[oracle] == name:
        yield
        return
    oracle_module.LOCKS[oracle].acquire()
    oracle_module.THREADS[oracle] = name
    try:
        yield
    finally:
        oracle_module.THREADS[oracle] = None
        oracle_module.LOCKS[oracle].release()


class _TokenCheck(grpc.ServerInterceptor):
    """Rejects every request whose token is missing or wrong."""

    def __init__(self, token):
        self._token = token.encode()

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong tfopt chief token")

        self._deny = grpc.unary_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation, handler_call_details):
        given = dict(handler_call_details.invocation_metadata).get(_TOKEN_KEY, "")
        if hmac.compare_digest(given.encode(), self._token):
            return continuation(handler_call_details)
        return self._deny


class GuardedServicer(oracle_chief.OracleServicer):
    """keras-tuner's servicer with ownership, state checks and heartbeats."""

    def __init__(self, oracle, lease):
        super().__init__(oracle)
        self.lease = lease
        if not hasattr(oracle, "owners"):
            oracle.owners = {}
        self.stopping = None  # the SearchError of failures in a row: no trial more is given
        now = self.started = time.monotonic()
        # a restarted chief: each running trial's worker has one lease to come back
        self.last_seen = {tuner_id: now for tuner_id in oracle.ongoing_trials}

    def _serve(self, context, body):
        tuner_id = dict(context.invocation_metadata()).get(_TUNER_KEY, "")
        self.last_seen[tuner_id] = time.monotonic()
        try:
            with oracle_lock(self.oracle):
                return body(tuner_id)
        except _Refused as refused:
            context.abort(refused.code, refused.message)
        except Exception as error:  # a malformed request: the chief keeps serving
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{type(error).__name__}: {error}")

    def _running_trial_of(self, tuner_id, trial_id):
        trial = self.oracle.trials.get(trial_id)
        if trial is None:
            raise _Refused(grpc.StatusCode.NOT_FOUND, f"no trial {trial_id!r}")
        if trial not in self.oracle.ongoing_trials.values():
            raise _Refused(grpc.StatusCode.FAILED_PRECONDITION,
                           f"trial {trial_id} is not running (it is {trial.status})")
        owner = self.oracle.owners.get(trial_id)
        if owner != tuner_id:
            raise _Refused(grpc.StatusCode.PERMISSION_DENIED,
                           f"trial {trial_id} belongs to {owner}, not {tuner_id or 'you'}")
        return trial

    def CreateTrial(self, request, context):
        def body(tuner_id):
            if request.tuner_id != tuner_id:
                raise _Refused(grpc.StatusCode.PERMISSION_DENIED,
                               f"tuner id {request.tuner_id!r} is not the caller's {tuner_id!r}")
            check_name("worker id", tuner_id)
            if self.stopping is not None:  # the worker stops; running trials may still end
                self.oracle.tuner_ids.discard(tuner_id)
                self.stop_triggered = True
                stopped = trial_module.Trial(self.oracle.get_space(), trial_id="",
                                             status=trial_module.TrialStatus.STOPPED)
                return protos.get_service().CreateTrialResponse(trial=stopped.to_proto())
            response = super(GuardedServicer, self).CreateTrial(request, context)
            if response.trial.status == trial_module.TrialStatus.to_proto("RUNNING"):
                self.oracle.owners[response.trial.trial_id] = tuner_id
                self.oracle.save()
            return response
        return self._serve(context, body)

    def UpdateTrial(self, request, context):
        def body(tuner_id):
            self._running_trial_of(tuner_id, request.trial_id)
            return super(GuardedServicer, self).UpdateTrial(request, context)
        return self._serve(context, body)

    def EndTrial(self, request, context):
        def body(tuner_id):
            self._running_trial_of(tuner_id, request.trial.trial_id)
            trial = trial_module.Trial.from_proto(request.trial)
            if trial.status != trial_module.TrialStatus.COMPLETED:  # keras-tuner's proto has
                trial.message = failure_reason(  # no message: the worker's error.txt says it
                    self.oracle._get_trial_dir(trial.trial_id), tuner_id)
            try:
                self.oracle.end_trial(trial)
            except SearchError as error:  # failures in a row; the oracle saved its state
                self.stopping = error
            response = protos.get_service().EndTrialResponse()
            self.oracle.owners.pop(request.trial.trial_id, None)
            self.oracle.save()
            return response
        return self._serve(context, body)

    def GetTrial(self, request, context):  # also the workers' heartbeat
        heartbeat = dict(context.invocation_metadata()).get(_HEARTBEAT_KEY)

        def body(tuner_id):
            if request.trial_id not in self.oracle.trials:
                raise _Refused(grpc.StatusCode.NOT_FOUND, f"no trial {request.trial_id!r}")
            if heartbeat:  # tells a worker that its trial went to another
                self._running_trial_of(tuner_id, request.trial_id)
            return super(GuardedServicer, self).GetTrial(request, context)
        return self._serve(context, body)

    def GetSpace(self, request, context):
        return self._serve(context, lambda _: super(GuardedServicer, self).GetSpace(
            request, context))

    def UpdateSpace(self, request, context):
        return self._serve(context, lambda _: super(GuardedServicer, self).UpdateSpace(
            request, context))

    def GetBestTrials(self, request, context):
        return self._serve(context, lambda _: super(GuardedServicer, self).GetBestTrials(
            request, context))

    def reassign_silent(self):
        """Puts back in the queue the trial of each worker silent for longer than the lease,
        and forgets silent workers, so the search can end without them."""
        now = time.monotonic()
        with oracle_lock(self.oracle):
            silent = [t for t in self.oracle.tuner_ids | set(self.oracle.ongoing_trials)
                      if now - self.last_seen.setdefault(t, now) > self.lease]
            for tuner_id in silent:
                trial = self.oracle.ongoing_trials.pop(tuner_id, None)
                self.oracle.tuner_ids.discard(tuner_id)
                if trial is not None:
                    self.oracle.owners.pop(trial.trial_id, None)
                    _compat.retry_queue(self.oracle).append(trial.trial_id)
                    logger.info(f"chief: {tuner_id} silent for over {self.lease:.0f} s; trial "
                                f"{trial.trial_id} goes back to the queue")
            if silent:
                self.oracle.save()

    def finished(self):
        """No trial runs or waits, and every worker was told to stop or went silent; a
        finished search's restarted chief also ends after one lease without any worker."""
        with oracle_lock(self.oracle):
            if self.stopping is not None:  # the queue waits for the resume
                return not self.oracle.ongoing_trials and not self.oracle.tuner_ids
            if self.oracle.ongoing_trials or _compat.retry_queue(self.oracle) or self.oracle.tuner_ids:
                return False
            all_ended = bool(self.oracle.max_trials) and \
                len(self.oracle.end_order) >= self.oracle.max_trials
            unvisited = all_ended and time.monotonic() - self.started > self.lease
            return self.stop_triggered or unvisited


class _Refused(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def serve(oracle, address, token, *, lease=None):
    """Serves `oracle` to workers at `address` until the search is done and every worker
    has been told so (or went silent)."""
    host, port = parse_address(address)
    servicer = GuardedServicer(oracle, lease_seconds() if lease is None else lease)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         interceptors=[_TokenCheck(token)])
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise InputError(f"The chief cannot listen on {host}:{port} (in use, or not an address "
                         "of this machine). Choose another --chief-address.")
    server.start()
    logger.info(f"chief: serving the search on {host}:{port}; start workers with "
                f"--worker ID --chief-address {host}:{port} on the same --out")
    try:
        while not servicer.finished():
            time.sleep(0.5)
            servicer.reassign_silent()
    finally:
        server.stop(grace=2).wait()
    if servicer.stopping is not None:
        logger.info("chief: the search stopped; the running trials have ended and every "
                    "worker has stopped")
        raise servicer.stopping
    logger.info("chief: every trial has ended and every worker has stopped")


class _Metadata(grpc.UnaryUnaryClientInterceptor):
    """Adds the token and the worker's id to every request."""

    class _Details(collections.namedtuple("_Details", ("method", "timeout", "metadata",
                                                        "credentials", "wait_for_ready",
                                                        "compression")),
                   grpc.ClientCallDetails):
        pass

    def __init__(self, token, tuner_id):
        self._extra = [(_TOKEN_KEY, token), (_TUNER_KEY, tuner_id)]

    def intercept_unary_unary(self, continuation, details, request):
        details = self._Details(details.method, details.timeout,
                                list(details.metadata or []) + self._extra, details.credentials,
                                details.wait_for_ready, details.compression)
        return continuation(details, request)


class TrialReassigned(Exception):
    """This worker's trial went to another worker (this one was silent too long)."""


class StopIfReassigned(keras.callbacks.Callback):
    """Stops a worker's trial (after the current batch, before it writes a checkpoint over
    the new owner's) once the chief's heartbeat answer says the trial is no longer its own."""

    def __init__(self, client, trial_id):
        super().__init__()
        self.client, self.trial_id = client, trial_id

    def on_train_batch_end(self, batch, logs=None):
        if self.client.lost == self.trial_id:
            raise TrialReassigned(f"trial {self.trial_id} was given to another worker while "
                                  f"{self.client.tuner_id} was silent; this copy stops")

    on_epoch_begin = on_epoch_end = on_train_batch_end

    def __deepcopy__(self, memo):
        return StopIfReassigned(self.client, self.trial_id)


class WorkerClient(oracle_client.OracleClient):
    """keras-tuner's worker-side oracle proxy, with the token, a heartbeat while a trial
    runs, and a clear line (not a crash) when the chief refuses a result because the
    trial went to another worker."""

    def __init__(self, oracle, token):
        super().__init__(oracle)
        channel = grpc.insecure_channel(f"{os.environ['KERASTUNER_ORACLE_IP']}:"
                                        f"{os.environ['KERASTUNER_ORACLE_PORT']}")
        self.stub = protos.get_service_grpc().OracleStub(
            grpc.intercept_channel(channel, _Metadata(token, self.tuner_id)))
        self._current = self.lost = None
        threading.Thread(target=self._beat, daemon=True, name="tfopt-heartbeat").start()

    def _beat(self):
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            trial_id = self._current
            if trial_id is None:
                continue
            try:
                self.stub.GetTrial(protos.get_service().GetTrialRequest(trial_id=trial_id),
                                   metadata=[(_HEARTBEAT_KEY, "1")], timeout=HEARTBEAT_SECONDS)
            except grpc.RpcError as error:
                if error.code() in (grpc.StatusCode.PERMISSION_DENIED,
                                    grpc.StatusCode.FAILED_PRECONDITION):
                    self.lost = trial_id  # `StopIfReassigned` ends the training

    def trial_callbacks(self, trial_id):
        """Callbacks a trial gets on this worker: it stops once the chief gave it away."""
        return [StopIfReassigned(self, trial_id)]

    def create_trial(self, tuner_id):
        trial = super().create_trial(tuner_id)
        self._current = trial.trial_id if trial.status == "RUNNING" else None
        return trial

    def update_trial(self, trial_id, metrics, step=0):
        try:
            return super().update_trial(trial_id, metrics, step=step)
        except grpc.RpcError as error:
            self._refused(trial_id, error)
            return trial_module.Trial(self.get_space(), trial_id=trial_id, status="RUNNING")

    def end_trial(self, trial):
        try:
            super().end_trial(trial)
        except grpc.RpcError as error:
            self._refused(trial.trial_id, error)
        finally:
            self._current = None

    def _refused(self, trial_id, error):
        if error.code() not in (grpc.StatusCode.PERMISSION_DENIED,
                                grpc.StatusCode.FAILED_PRECONDITION):
            raise error
        logger.warning(f"worker {self.tuner_id}: the chief refused trial {trial_id}'s result "
                    f"({error.details()}); it was given to another worker")
