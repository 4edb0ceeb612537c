"""How the points of a sweep run: `python -m den_tf.cli ARGS` subprocesses, either on this
machine (threads, each waiting on one subprocess) or as Ray tasks.

A Ray task runs its point in a temporary folder on whatever node Ray picks and returns
the point's files (run.log, results.json, stdout.txt, stderr.txt, results.png) with its
exit status and wall time; the sweep writes them into the point's folder. Nodes need no
shared filesystem; checkpoints stay on the node and are deleted with the folder.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Callable, Dict, List, Optional, Sequence

SHIPPED_FILES = ("run.log", "results.json", "stdout.txt", "stderr.txt", "results.png")
RAY_INSTALL = ("--ray needs Ray, an optional extra: pip install 'den_tf[ray]' "
               "(or pip install 'ray>=2.40')")


def managed_args(folder: str) -> List[str]:
    """The arguments the sweep sets for every point: where its outputs go."""
    return [f"--log_file={os.path.join(folder, 'run.log')}",
            f"--results={os.path.join(folder, 'results.json')}",
            f"--checkpoint_dir={os.path.join(folder, 'checkpoints')}",
            "--progress=off"]


MANAGED_FLAGS = ("log_file", "results", "checkpoint_dir", "progress", "threads")


def last_error_line(stderr_text: str, status: int) -> str:
    lines = [l for l in stderr_text.splitlines() if l.strip()]
    return lines[-1].strip() if lines else f"exit status {status}"


def run_point(args: Sequence[str], folder: str, threads: Optional[int] = None,
              env: Optional[dict] = None, cwd: Optional[str] = None,
              on_start: Optional[Callable] = None, on_end: Optional[Callable] = None) -> dict:
    """Runs `python -m den_tf.cli ARGS [--threads=N]` with stdout and stderr in `folder`;
    returns {"status": exit status, "wall_s": seconds, "error": stderr's last line when
    the status is not 0, else ""}. `on_start(proc)` / `on_end(proc)` let a caller
    track the process (to stop it); an exception while waiting (KeyboardInterrupt, a
    cancelled Ray task) terminates it."""
    os.makedirs(folder, exist_ok=True)
    run_env = dict(os.environ if env is None else env, TF_CPP_MIN_LOG_LEVEL="2")
    args = list(args) + ([f"--threads={threads}"] if threads else [])
    start = time.perf_counter()
    with open(os.path.join(folder, "stdout.txt"), "w") as out, \
            open(os.path.join(folder, "stderr.txt"), "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "den_tf.cli"] + args, stdout=out,
                                stderr=err, stdin=subprocess.DEVNULL, env=run_env, cwd=cwd)
        if on_start:
            on_start(proc)
        try:
            status = None
            while status is None:  # in steps: a cancelled Ray task's exception gets in
                try:
                    status = proc.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    pass
        except BaseException:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
        finally:
            if on_end:
                on_end(proc)
    wall = time.perf_counter() - start
    error = ""
    if status != 0:
        with open(os.path.join(folder, "stderr.txt"), errors="replace") as f:
            error = last_error_line(f.read(), status)
    return {"status": status, "wall_s": wall, "error": error}


def run_shipped(run_args: Sequence[str], threads: Optional[int], cwd: str) -> dict:
    """The body of a Ray task: the point's run in a temporary folder of this node; returns
    run_point's dict plus "host" and "files" ({name: bytes} of SHIPPED_FILES present).
    The run starts in `cwd` (the sweep's working directory) when this node has it, so
    relative paths such as --data_dir work on a shared filesystem; else in the folder."""
    if threading.current_thread() is threading.main_thread():
        # Ray cancels a task by interrupting it (KeyboardInterrupt); a worker that
        # inherited SIGINT ignored (a sweep started with nohup or `&`) would not notice.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="den_tf_sweep_") as tmp:
        here = cwd if os.path.isdir(cwd) else tmp
        r = run_point(list(run_args) + managed_args(tmp), tmp, threads, cwd=here)
        files = {}
        for name in SHIPPED_FILES:
            path = os.path.join(tmp, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    files[name] = f.read()
    r.update(host=socket.gethostname(), files=files)
    return r


# ----------------------------------------------------------------------------- executors
class Terminated(BaseException):
    """The sweep was asked to stop (SIGTERM): raised by the executors' loops."""


# Set by the sweep's SIGTERM handler; the executors' loops look at it every second (a
# handler that raised could do so inside Ray's C++ waits, which do not pass it on).
STOP = threading.Event()


def check_stop() -> None:
    if STOP.is_set():
        raise Terminated()


class Job:
    """One point to run: its folder name, folder and arguments (without the managed ones)."""

    def __init__(self, name: str, folder: str, run_args: List[str]):
        self.name, self.folder, self.run_args = name, folder, run_args


class LocalExecutor:
    """`workers` points at once on this machine, each a subprocess limited to `threads`
    TensorFlow threads. Stopping (an exception in the caller's loop) terminates them."""

    def __init__(self, workers: int, threads: Optional[int]):
        self.workers, self.threads = workers, threads
        self._procs: set = set()
        self._lock = threading.Lock()
        self._stopping = False

    def _start(self, proc):
        with self._lock:
            self._procs.add(proc)
            if self._stopping:
                proc.terminate()

    def _end(self, proc):
        with self._lock:
            self._procs.discard(proc)

    def _one(self, job: Job) -> Optional[dict]:
        if self._stopping:
            return None
        r = run_point(job.run_args + managed_args(job.folder), job.folder, self.threads,
                      on_start=self._start, on_end=self._end)
        r["host"] = socket.gethostname()
        return r

    def run(self, jobs: Sequence[Job], on_done: Callable[[Job, dict], None]) -> None:
        """Runs every job; calls on_done(job, result) in this thread as each one ends."""
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="den_tf_sweep")
        futures = {pool.submit(self._one, j): j for j in jobs}
        order = {f: i for i, f in enumerate(futures)}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                check_stop()
                for f in sorted(done, key=order.get):
                    try:
                        r = f.result()
                    except Exception as e:  # the sweep's own fault (files), not the run's
                        r = {"status": -1, "wall_s": 0.0, "error": f"{type(e).__name__}: {e}"}
                    on_done(futures[f], r)
        finally:
            with self._lock:
                self._stopping = True
                for p in self._procs:
                    p.terminate()
            pool.shutdown(wait=True, cancel_futures=True)


def import_ray(local: bool):
    """Imports Ray with usage statistics off (and, for a local Ray, every service on the
    loopback address); raises ImportError when Ray is not installed."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if local:  # node address 127.0.0.1: Ray's services listen on the loopback only
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray
    return ray


class RayExecutor:
    """Each point a Ray task with `cpus` CPUs and `gpus` GPUs. address "local" starts an
    in-process Ray on 127.0.0.1 with `local_cpus` CPUs, no dashboard and no usage
    statistics; any other address ("auto", "HOST:PORT", "ray://HOST:PORT") joins an
    existing cluster. At most `in_flight` tasks are submitted at once (None: all)."""

    def __init__(self, address: str, cpus: float, gpus: float, threads: Optional[int],
                 local_cpus: Optional[int] = None, in_flight: Optional[int] = None):
        self.address, self.cpus, self.gpus, self.threads = address, cpus, gpus, threads
        self.local_cpus, self.in_flight = local_cpus, in_flight
        self.ray = import_ray(address == "local")

    def start(self) -> str:
        """Starts or joins Ray; returns a line describing it."""
        ray = self.ray
        common = dict(log_to_driver=False, logging_level=logging.ERROR,
                      namespace="den_tf_sweep")
        if self.address == "local":
            ray.init(address="local", num_cpus=self.local_cpus, include_dashboard=False,
                     _node_ip_address="127.0.0.1", object_store_memory=128 * 1024 ** 2,
                     **common)
        else:
            ray.init(address=self.address, **common)
        res = ray.cluster_resources()
        node = ray.util.get_node_ip_address()
        return (f"Ray {ray.__version__} at {self.address} (this node {node}; in all CPUs "
                f"{res.get('CPU', 0):g}, GPUs {res.get('GPU', 0):g}; per run CPUs "
                f"{self.cpus:g}, GPUs {self.gpus:g})")

    def stop(self) -> None:
        if self.ray.is_initialized():
            self.ray.shutdown()

    def run(self, jobs: Sequence[Job], on_done: Callable[[Job, dict], None]) -> None:
        ray = self.ray
        task = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus)(run_shipped)
        cwd = os.getcwd()
        todo = list(jobs)
        running: Dict = {}
        limit = self.in_flight or len(todo)
        try:
            while todo or running:
                while todo and len(running) < limit:
                    job = todo.pop(0)
                    running[task.remote(job.run_args, self.threads, cwd)] = job
                done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                check_stop()
                for ref in done:
                    job = running.pop(ref)
                    try:
                        r = ray.get(ref)
                    except Exception as e:  # the task died (node lost, ...), not the run
                        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                        r = {"status": -1, "wall_s": 0.0, "error": f"Ray: {first}"}
                    on_done(job, r)
        finally:
            refs = list(running)
            for ref in refs:
                ray.cancel(ref)  # KeyboardInterrupt in the task: run_point stops its run
            if refs:  # and the task removes its temporary folder before Ray shuts down
                ray.wait(refs, num_returns=len(refs), timeout=20)
