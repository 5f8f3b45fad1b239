"""Oracle and tuner mixins that keep a search's ledger whole through kills, crashes and NaN.

keras-tuner 1.4 (read and exercised) loses or repeats work when a search is
killed: it reloads a project only after the first trial ended, re-runs an
interrupted trial from epoch 0, re-runs forever a trial that kills its process,
leaves a trial RUNNING forever when killed between writing trial.json and
oracle.json, and does not save its state when it stops on consecutive failures.
These mixins fix each of those on keras-tuner's own classes.
"""

import math
import pathlib
import re
import shutil

import keras
import keras_tuner as kt

from tfopt import _compat
from tfopt.durable import check_name, read_json, read_json_or, readable, write_json
from tfopt.errors import InputError, SearchError
from tfopt.training.multi_worker import ReplicaCheckpoint, lost_a_member, writes_results
from tfopt.log import logger

MAX_ATTEMPTS = 3  # starts of one trial (counted on disk) before it is marked FAILED
ATTEMPTS_FILE = "attempts.json"
ERROR_FILE = "error.txt"
TRIAL_FILE = "trial.json"
_EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*:")
_ENDED = (kt.engine.trial.TrialStatus.COMPLETED, kt.engine.trial.TrialStatus.FAILED)


class DurableOracle:
    """Oracle mixin: atomic state files, every trial's record also in oracle.json, a
    reload that recovers from a kill at any point, and only finite best trials."""

    def get_state(self):
        state = super().get_state()
        state["trial_records"] = {tid: t.get_state() for tid, t in self.trials.items()}
        state["owners"] = getattr(self, "owners", {})  # trial id -> worker (distributed)
        return state

    def save(self):
        write_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        check_name("trial id", trial.trial_id)
        write_json(pathlib.Path(self._get_trial_dir(trial.trial_id), TRIAL_FILE),
                   trial.get_state())

    def reload(self):
        project = pathlib.Path(self._project_dir)
        state = read_json(project / "oracle.json")
        started = [check_name("trial id", tid) for tid in state["start_order"]]
        records = dict(state.get("trial_records", {}))
        for tid, record in _records_on_disk(project, records).items():
            if tid in started:
                records[tid] = record  # as new as oracle.json's copy, or newer
            elif record.get("status") in _ENDED:  # ended after the oracle.json we have (a backup)
                started.append(tid)
                state["start_order"].append(tid)
                state["end_order"].append(tid)
                records[tid] = record
            else:  # written when the trial was created, but the kill came before oracle.json
                orphan = _set_aside(project / f"trial_{tid}")
                logger.info(f"trial {tid} was created just before the search was killed and "
                            f"never started; its folder is kept as {orphan.name}")
        lost = [tid for tid in started if tid not in records]
        if lost:
            raise InputError(f"{project}: trials {', '.join(lost)} are listed in oracle.json but "
                             "their folders and records are gone. Restore them from a copy, or "
                             "search again with a new --out.")
        self.trials = {tid: kt.engine.trial.Trial.from_state(records[tid]) for tid in started}
        for tid in started:  # a deleted trial folder: its record comes back (not its checkpoint)
            path = pathlib.Path(self._get_trial_dir(tid), TRIAL_FILE)
            if not readable(path):
                logger.info(f"{path} was missing or damaged; restored its record from "
                            "oracle.json")
                self._save_trial(self.trials[tid])
        _end_finished_ongoing(state, self.trials)
        self.set_state(state)
        self._ended_before = len(self.end_order)  # failures in a row count from here
        self.owners = {tid: owner for tid, owner in state.get("owners", {}).items()
                       if tid in self.trials}
        if _compat.is_chief_oracle():
            return  # running trials stay with their workers (see tfopt.scale.chief_worker)
        for trial in self.ongoing_trials.values():  # interrupted: runs again, from its backup
            _compat.retry_queue(self).append(trial.trial_id)
        self.ongoing_trials = {}

    def _check_consecutive_failures(self):
        # keras-tuner counts every run of failures in the whole history (so after a resume
        # any trial's end would stop the search again), and raises before saving the state
        ended_here = self.end_order[getattr(self, "_ended_before", 0):]
        failures = 0
        for tid in reversed(ended_here):
            if self.trials[tid].status != kt.engine.trial.TrialStatus.FAILED:
                break
            failures += 1
        if failures >= self.max_consecutive_failed_trials:
            last = self.trials[self.end_order[-1]]
            self._save_trial(last)
            self.ongoing_trials = {tuner_id: trial for tuner_id, trial
                                   in self.ongoing_trials.items() if trial is not last}
            self.save()
            raise SearchError(
                f"{failures} trials failed in a row, so the search stopped; the last (trial "
                f"{last.trial_id}) said: {last.message}. Every trial's state is saved: fix the "
                "cause and run the same command to go on.")

    def get_best_trials(self, num_trials=1):
        """The best COMPLETED trials with a finite score (keras-tuner sorts NaN scores
        wherever they fall, and pads the list with unfinished or failed trials)."""
        finite = [t for t in self.trials.values() if t.status == "COMPLETED"
                  and t.score is not None and math.isfinite(t.score)]
        finite.sort(key=lambda t: t.score, reverse=self.objective.direction == "max")
        return finite[:num_trials]


def _records_on_disk(project, known):
    """{trial id: record} of every `trial_<id>/trial.json` (or its backup); a damaged one
    without a backup falls back to oracle.json's copy in `known`."""
    records = {}
    for folder in sorted(project.glob("trial_*")):
        tid = folder.name[len("trial_"):]
        if not folder.is_dir() or "." in tid:
            continue  # a folder set aside earlier
        check_name("trial id", tid)
        path = folder / TRIAL_FILE
        if not path.exists() and not path.with_name(TRIAL_FILE + ".bak").exists():
            continue  # left to the loop over oracle.json's trials
        try:
            records[tid] = read_json(path)
        except InputError:
            if tid not in known:
                raise
            continue  # restored from oracle.json's record below
        if records[tid].get("trial_id") != tid:
            raise InputError(f"{path} names trial {records[tid].get('trial_id')!r}, not {tid!r}. "
                             "Restore the file, or search again with a new --out.")
    return records


def _set_aside(folder):
    number = 0
    while (target := folder.with_name(f"{folder.name}.orphan{number or ''}")).exists():
        number += 1
    folder.rename(target)
    return target


def _end_finished_ongoing(state, trials):
    """A trial still "ongoing" in oracle.json whose own record says it ended was killed
    between the two saves: it is ended now instead of running a second time."""
    for tuner_id, tid in list(state["ongoing_trials"].items()):
        if trials[tid].status in _ENDED:
            del state["ongoing_trials"][tuner_id]
            if tid not in state["end_order"]:
                state["end_order"].append(tid)
                state["run_times"][tid] = state["run_times"].get(tid, 0) + 1


def mark_resumable(project_dir, tuner_id="tuner0"):
    """Writes keras-tuner's tuner file when a project has an oracle but no tuner file
    (a kill during its first trial), so the tuner reloads instead of starting afresh."""
    project_dir = pathlib.Path(project_dir)
    tuner_file = project_dir / f"{tuner_id}.json"
    oracle_file = project_dir / "oracle.json"
    if not tuner_file.exists() and (oracle_file.exists() or
                                    oracle_file.with_name("oracle.json.bak").exists()):
        write_json(tuner_file, {})


class ResumableTuner:
    """Tuner mixin: atomic tuner state saved from the start, each trial resumed from its
    last finished epoch (`keras.callbacks.BackupAndRestore`), at most `MAX_ATTEMPTS`
    starts of a trial (counted on disk), and a failed trial's reason as its message
    (the traceback goes to `trial_<id>/error.txt`)."""

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        write_json(self._get_tuner_fname(), self.get_state())

    def reload(self):
        if not self._is_worker():
            self.oracle.reload()
        self.set_state(read_json(self._get_tuner_fname()))

    def on_search_begin(self):
        super().on_search_begin()
        self.save()  # so that a kill during the first trial resumes too

    def run_trial(self, trial, *args, **kwargs):
        backup = pathlib.Path(self.get_trial_dir(trial.trial_id), "backup")
        guards = getattr(self.oracle, "trial_callbacks", lambda trial_id: [])(trial.trial_id)
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), *guards, TrialBackup(str(backup))]
        if not writes_results(self.distribution_strategy):
            kwargs["callbacks"].append(ReplicaCheckpoint(
                self.oracle.objective, self._get_checkpoint_fname(trial.trial_id)))
        return super().run_trial(trial, *args, **kwargs)

    def _try_run_and_update_trial(self, trial, *fit_args, **fit_kwargs):
        trial_dir = pathlib.Path(self.get_trial_dir(trial.trial_id))
        attempts_file = trial_dir / ATTEMPTS_FILE
        started = read_json_or(attempts_file, {"started": 0})["started"]
        if started >= MAX_ATTEMPTS:
            trial.status = kt.engine.trial.TrialStatus.FAILED
            trial.message = (f"started {started} times, and each time its process ended before "
                             "the trial did (killed, out of memory or a crash)")
            (trial_dir / ERROR_FILE).write_text(trial.message)  # what a distributed chief reads
            logger.info(f"trial {trial.trial_id}: FAILED, {trial.message}")
            return
        if started:
            logger.info(f"trial {trial.trial_id}: attempt {started + 1} of {MAX_ATTEMPTS}, "
                        "from its last finished epoch")
        write_json(attempts_file, {"started": started + 1})
        try:
            with _compat.keras_tuner_debug(False):  # the traceback goes to error.txt
                super()._try_run_and_update_trial(trial, *fit_args, **fit_kwargs)
        except KeyboardInterrupt:  # Ctrl-C: the user stopped it; no crash, so no attempt
            write_json(attempts_file, {"started": started})
            raise
        if trial.status != kt.engine.trial.TrialStatus.COMPLETED and trial.message:
            (trial_dir / ERROR_FILE).write_text(trial.message)
            if lost_a_member(self.distribution_strategy, trial.message):
                reason = _reason(trial.message)
                trial.status, trial.message = kt.engine.trial.TrialStatus.RUNNING, None
                raise SearchError(
                    f"A member of the multi-worker cluster stopped during trial "
                    f"{trial.trial_id} ({reason}). The trial is kept unfinished: start every "
                    "member again with the same command, and it resumes from its last "
                    "finished epoch.")
            trial.message = _reason(trial.message)
            logger.info(f"trial {trial.trial_id} failed: {trial.message} (traceback in "
                        f"{trial_dir / ERROR_FILE})")


class TrialBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` with two checkpoints (a kill while saving leaves the previous one)
    that starts the trial afresh, saying so, when neither can be read."""

    def __init__(self, backup_dir):
        super().__init__(backup_dir, double_checkpoint=True)

    def on_train_begin(self, logs=None):
        try:
            super().on_train_begin(logs)
        except (OSError, ValueError) as error:
            logger.info(f"the trial's backup in {self.backup_dir} is unreadable ({error}); "
                        "the trial starts again from its first epoch")
            shutil.rmtree(self.backup_dir, ignore_errors=True)
            self.model._initial_epoch = None


def failure_reason(trial_dir, worker):
    """A failed trial's reason from its `error.txt` (written by the worker that ran it, in
    the run folder the chief shares), or where to look when this machine cannot read it."""
    error_file = pathlib.Path(trial_dir, ERROR_FILE)
    try:
        return _reason(error_file.read_text())
    except (OSError, UnicodeDecodeError):
        return f"failed on {worker}; its reason is in {error_file} on that machine"


def _reason(message):
    """The last line of a traceback, without the exception's module path."""
    lines = [line for line in message.strip().splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
    last = " ".join(lines[starts[-1]:] if starts else lines[-1:]) or message
    last = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", last)
    if len(last) > 300:
        last = last[:297] + "..."
    name, _, text = last.partition(": ")
    name = name.rsplit(".", 1)[-1]
    if not text:
        return last
    return text if name == "FailedTrialError" else f"{name}: {text}"


def failed_trials_summary(oracle, limit=3):
    """"trial 00: <reason>; ..." for the failed trials (the first `limit`)."""
    failed = [t for t in oracle.trials.values() if t.status == kt.engine.trial.TrialStatus.FAILED]
    text = "; ".join(f"trial {t.trial_id}: {t.message}" for t in failed[:limit])
    return text + (f"; and {len(failed) - limit} more" if len(failed) > limit else "")

