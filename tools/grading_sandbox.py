"""Grade one submitted notebook in a sandbox: a throwaway folder, its own process tree, a time limit.

Used by `tools/assignments.py grade` (docs/grading.md says what is and is not protected). Two halves:

- the parent (`grade_notebook`) copies the notebook into a fresh folder, starts the child, and only
  once the child says the notebook has run does it send the tests, over a pipe: the tests are never
  on disk where the student's code runs. At the time limit it kills the child's whole process group.
- the child (`python tools/grading_sandbox.py --child`) runs the notebook's code cells, then the
  tests, and writes one JSON line of results back. Under it, `unshare` gives it no network, a
  private /proc and process tree (everything in it dies with it), and the whole filesystem
  read-only except its folder, with the teacher's private folders (masters, tests, autograders,
  grades, the other submissions) hidden; as root it then runs as `nobody`.

The child also keeps a Python audit hook (which cannot be removed once added) that refuses and
reports writes outside its folder, reads of the hidden folders, network, new processes, frame and
garbage-collector introspection, and tracing, and a profile hook that refuses growkit's own
implementation of what the assignment asks for ("growkit's own version is off during grading").
Where `unshare` is not available these hooks, the time limit and the process group are all
there is (`SANDBOX` says which).
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETPRIV = shutil.which("setpriv")
OFF_MESSAGE = "implement it here; growkit's own version is off during grading"

# What growkit code may not run while an assignment is graded (paths under growkit/): the kit's
# own answer to the question. 04 asks students to use the kit, so nothing is off there.
OFF = {
    "01_speedup_metric": ["speedup.py"],
    "02_depth_growth": ["grow/"],
    "03_width_growth": ["grow/"],
    "05_mixture_layout": ["cnn.py", "grow/"],
}
# Values set after the notebook's `parameters` cell, as papermill would: 04 trains on a smaller
# budget when graded (seconds, not a minute; its tests check the ledger against BUDGET itself).
GRADING_PARAMETERS = {"04_honest_experiment": {"BUDGET": 2e9}}


@dataclass
class Limits:
    submission_s: float = 240.0  # the whole child, notebook and tests: then its process tree is killed
    cell_s: float = 90.0  # one notebook cell
    test_s: float = 30.0  # one test case
    memory_bytes: int = 6 << 30  # address space (torch reserves a lot of it)
    file_bytes: int = 256 << 20  # largest file it may write


@dataclass
class TestResult:
    question: str
    test: str
    points: float
    passed: bool
    hidden: bool
    message: str = ""


@dataclass
class Outcome:
    """What grading one notebook gave: test results, and what went wrong on the way."""

    tests: list[TestResult] = field(default_factory=list)
    possible: dict[str, float] = field(default_factory=dict)  # question -> points
    cell_errors: list[str] = field(default_factory=list)  # the student's own errors (feedback)
    violations: list[str] = field(default_factory=list)  # what the sandbox refused (report lines)
    error: str | None = None  # not graded at all (killed, crashed)
    sandbox: str = ""

    def scores(self) -> dict[str, tuple[float, float]]:
        out = {q: [0.0, p] for q, p in self.possible.items()}
        for t in self.tests:
            if t.passed:
                out[t.question][0] += t.points
        return {q: (s, p) for q, (s, p) in out.items()}


# ---- which sandbox this machine gives -----------------------------------------------------------

def _unshare_args() -> list[str] | None:
    """The unshare command line that works here, or None (no namespaces: the fallback)."""
    if not shutil.which("unshare") or not shutil.which("mount") or sys.platform != "linux":
        return None
    base = ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
    for args in ([*base] if os.geteuid() == 0 else None, [*base[:1], "--user", "--map-root-user", *base[1:]]):
        if args and subprocess.run([*args, "true"], capture_output=True).returncode == 0:
            return args
    return None


UNSHARE = _unshare_args()
SANDBOX = ("namespaces: no network, read-only filesystem but its folder, private process tree"
           + (", no capabilities" if SETPRIV else "")
           if UNSHARE else "process group and Python audit hooks only (no unshare here)")


# ---- parent ---------------------------------------------------------------------------------------

def grade_notebook(notebook: Path, tests: dict[str, str], assignment: str, hide: list[Path],
                   limits: Limits | None = None) -> Outcome:
    """Run `notebook` in a throwaway folder, then `tests` ({file name: source}) against it."""
    limits = limits or Limits()
    work = Path(tempfile.mkdtemp(prefix="growkit-grade-"))
    read_fd, write_fd = os.pipe()
    log = tempfile.TemporaryFile()
    proc = None
    try:
        (work / "tmp").mkdir()
        shutil.copy(notebook, work / "submission.ipynb")
        config = {"work": str(work), "assignment": assignment, "off": OFF.get(assignment, []),
                  "parameters": GRADING_PARAMETERS.get(assignment, {}), "fd": write_fd,
                  "hide": [str(p.resolve()) for p in hide], "namespaces": UNSHARE is not None,
                  "limits": limits.__dict__}
        command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(config)]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "TMPDIR": str(work / "tmp"),
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
               "MPLBACKEND": "Agg", "LANG": "C.UTF-8"}
        proc = subprocess.Popen([*(UNSHARE or []), *command], cwd=work, env=env, stdin=subprocess.PIPE,
                                stdout=log, stderr=log, pass_fds=(write_fd,), start_new_session=True)
        os.close(write_fd)
        write_fd = -1
        return _converse(proc, read_fd, tests, limits, log)
    finally:
        if proc is not None and proc.poll() is None:
            _kill(proc)
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def _kill(proc: subprocess.Popen) -> None:
    """The child's whole process group (and with namespaces its whole process tree) killed."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _converse(proc: subprocess.Popen, fd: int, tests: dict[str, str], limits: Limits, log) -> Outcome:
    deadline = time.monotonic() + limits.submission_s
    buffer = b""
    nonce = secrets.token_hex(16)
    ready: dict | None = None

    def next_message() -> dict | None:
        nonlocal buffer
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return {"event": "timeout"}
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            buffer += chunk
            if len(buffer) > 64 << 20:
                return {"event": "flood"}
        line, buffer = buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            return {"event": "garbage"}

    def failed(why: str, violations: list[str] | None = None) -> Outcome:
        _kill(proc)
        log.seek(0)
        tail = log.read()[-1500:].decode(errors="replace").strip()
        detail = f" (its last output: {tail[-600:]})" if tail and "killed" not in why else ""
        return Outcome(error=why + detail, violations=violations or [], sandbox=SANDBOX)

    ready = next_message()
    if ready is None or ready.get("event") != "ready":
        if ready and ready.get("event") == "timeout":
            return failed(f"killed at the {limits.submission_s:.0f} s time limit while its notebook ran "
                          "(an endless loop?): every question 0")
        return failed(f"its notebook run ended without reaching the tests ({(ready or {}).get('event', 'exit')})")
    try:
        proc.stdin.write((json.dumps({"nonce": nonce, "tests": tests}) + "\n").encode())
        proc.stdin.close()
    except BrokenPipeError:
        return failed("it exited before the tests could be sent")
    results = next_message()
    if results is None or results.get("event") == "timeout":
        return failed(f"killed at the {limits.submission_s:.0f} s time limit during the tests: every question 0",
                      ready.get("violations"))
    if results.get("event") != "results" or results.get("nonce") != nonce:
        return failed("it wrote to the grader's result channel itself: every question 0",
                      [*ready.get("violations", []), "forged the grader's results"])
    proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    out = Outcome(possible=results["possible"], cell_errors=ready["cell_errors"],
                  violations=[*ready["violations"], *results["violations"]], sandbox=SANDBOX)
    out.tests = [TestResult(**t) for t in results["tests"]]
    return out


# ---- child -----------------------------------------------------------------------------------------

class Refused(PermissionError):
    """What the audit hook raises: the sandbox refused an operation."""


class Timeout(BaseException):  # not an Exception: a student's `except Exception` cannot swallow it
    pass


def _setup_namespace(work: str, hide: list[str]) -> None:
    """In the child's own mount namespace: everything read-only but `work`, `hide` covered."""
    def mount(*args: str) -> None:
        subprocess.run(["mount", *args], check=True, capture_output=True)

    mount("--make-rprivate", "/")
    mount("--bind", work, work)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point != work and not point.startswith(("/proc", "/sys", "/dev/pts")):
            points.append(point)
    for point in points:
        subprocess.run(["mount", "-o", "remount,bind,ro", point], capture_output=True)
    for path in hide:
        if Path(path).is_dir() and not work.startswith(path + "/"):
            mount("-t", "tmpfs", "-o", "ro,size=4k,mode=0555", "tmpfs", path)


def _limit(limits: dict) -> None:
    import resource

    for what, value in ((resource.RLIMIT_AS, limits["memory_bytes"]), (resource.RLIMIT_FSIZE, limits["file_bytes"]),
                        (resource.RLIMIT_CORE, 0), (resource.RLIMIT_CPU, int(limits["submission_s"]) + 5)):
        resource.setrlimit(what, (value, value))


class Guard:
    """The child's policy: an audit hook (refuses, and remembers what it refused) and the profile
    hook that keeps growkit's own implementation off."""

    FRAME_ATTRS = {"f_back", "tb_frame", "f_globals", "f_locals", "gi_frame", "cr_frame", "ag_frame", "f_builtins"}

    def __init__(self, work: str, hide: list[str], off: list[str]) -> None:
        import growkit

        self.work = os.path.realpath(work).rstrip(os.sep) + os.sep  # "/" (in process): writes anywhere
        self.hide = [os.path.realpath(p) for p in hide]
        package = os.path.dirname(os.path.realpath(growkit.__file__)) + os.sep
        self.off = tuple(package + p for p in off)
        self.active = False  # True while the student's code (or a test calling it) runs
        self.refused: list[str] = []
        self.off_hit: str | None = None
        self.unsetting = False

    def refuse(self, what: str) -> None:
        if what not in self.refused:
            self.refused.append(what)
        raise Refused(f"the grading sandbox refused this: {what}")

    def audit(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = args
            if isinstance(path, int) or path is None:
                return
            real = os.path.realpath(os.fsdecode(path))
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
            if any(real == h or real.startswith(h + os.sep) for h in self.hide):
                self.refuse(f"read {real} (a folder of the teacher's)")
            if writing and not (real + os.sep).startswith(self.work) and not real.startswith("/dev/null"):
                self.refuse(f"write {real} (outside its folder)")
        elif event in ("os.remove", "os.rmdir", "os.rename", "os.replace", "shutil.rmtree", "os.chmod",
                       "os.chown", "os.link", "os.symlink", "os.truncate", "os.utime", "os.mkdir"):
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)):
                    real = os.path.realpath(os.fsdecode(path))
                    if not (real + os.sep).startswith(self.work):
                        self.refuse(f"{event} {real} (outside its folder)")
        elif event.startswith(("socket.", "urllib.", "http.")) and event != "socket.__new__":
            self.refuse("use the network")
        elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                       "os.forkpty", "pty.spawn"):
            self.refuse(f"start a process ({event})")
        elif event == "sys.setprofile" and self.unsetting:
            self.unsetting = False
        elif event in ("sys.settrace", "sys.setprofile", "sys._current_frames", "gc.get_objects",
                       "gc.get_referrers", "gc.get_referents") or event.startswith("ctypes."):
            self.refuse(f"inspect or hook the grader ({event})")
        elif event == "object.__getattr__" and len(args) > 1 and args[1] in self.FRAME_ATTRS:
            self.refuse(f"inspect the grader's frames ({args[1]})")
        elif event == "object.__setattr__" and len(args) > 1 and args[1] == "__code__":
            self.refuse("replace a function's code")

    def profile(self, frame, event: str, arg) -> None:
        if event == "call" and self.active and frame.f_code.co_filename.startswith(self.off):
            name = frame.f_code.co_filename.split("growkit" + os.sep, 1)[-1] + ": " + frame.f_code.co_name
            self.off_hit = name
            self.unsetting = True  # Python unsets a profile hook that raises: that is not the student's doing
            raise NotImplementedError(f"{OFF_MESSAGE} (your code called growkit's {name})")

    def run(self, fn, seconds: float):
        """fn() as the student's code: guarded, and stopped after `seconds`."""
        def alarm(signum, frame):
            raise Timeout()

        signal.signal(signal.SIGALRM, alarm)
        self.off_hit = None
        sys.setprofile(self.profile)
        self.active = True
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.active = False
            sys.setprofile(None)


def _snapshot() -> dict[tuple[str, str], int]:
    """id() of what the tests rely on: a submission that replaces one (torch.allclose returning
    True, say) is caught by comparing before and after. Not all of torch: it sets attributes lazily."""
    import builtins
    import math

    import torch

    out = {}
    for owner in (builtins, math, torch.Tensor, sys.modules.get("grading_child", math)):
        for name, value in list(vars(owner).items()):
            out[(getattr(owner, "__name__", str(owner)), name)] = id(value)
    for name in ("allclose", "equal", "isclose", "cat", "randint", "randn", "rand_like", "tensordot", "no_grad"):
        out[("torch", name)] = id(getattr(torch, name))
    return out


def _tampered(before: dict[tuple[str, str], int]) -> list[str]:
    after = _snapshot()
    return [f"{m}.{n}" for (m, n), v in before.items() if after.get((m, n)) != v][:5]


def _run_cells(nb, guard: Guard, parameters: dict, cell_s: float) -> tuple[dict, list[str]]:
    """The notebook's code cells in one namespace, as Otter's grader runs them (errors allowed),
    Otter's own cells (init, check, export) left out: the tests run anyway."""
    from IPython.core.inputtransformer2 import TransformerManager

    class Quiet:  # get_ipython() and grader: magics and grader.check do nothing here
        def __getattr__(self, name):
            return lambda *a, **k: None

    env: dict = {"__name__": "__main__", "get_ipython": Quiet, "grader": Quiet()}
    errors = []
    transform = TransformerManager().transform_cell
    for number, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), 1):
        source = cell.source
        if "import otter" in source or source.lstrip().startswith("grader."):
            continue
        try:
            code = compile(transform(source), f"<cell {number}>", "exec")
            guard.run(lambda code=code: exec(code, env), cell_s)
        except Timeout:
            errors.append(f"cell {number} ran past its {cell_s:.0f} s limit and was stopped (an endless loop?)")
        except Exception as e:  # noqa: BLE001 - the student's error: reported, as Otter allows errors
            errors.append(f"cell {number} raised {type(e).__name__}: {str(e)[:300]}")
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            env.update(parameters)
    return env, errors


def _load_tests(name: str, source: str) -> tuple[list, float]:
    """The test cases of one Otter test file (exception format) and its question's points."""
    from otter.test_files import test_case

    namespace: dict = {}
    exec(compile(source, f"<hidden test {name}>", "exec"), namespace)
    cases = [v for v in namespace.values() if isinstance(v, test_case)]
    unset = [c for c in cases if c.points is None]
    if not unset:  # the points of the cases present (the public ones only, for a student's own check)
        return cases, float(sum(c.points for c in cases))
    total = float(namespace.get("points") or len(cases))
    for c in unset:
        c.points = (total - sum(c.points or 0 for c in cases if c not in unset)) / len(unset)
    return cases, total


def _run_tests(tests: dict[str, str], env: dict, guard: Guard, test_s: float) -> tuple[list[dict], dict]:
    results, possible = [], {}
    for file, source in sorted(tests.items()):
        question = file.removesuffix(".py")
        cases, possible[question] = _load_tests(question, source)
        for case in cases:
            before = len(guard.refused)
            try:
                guard.run(lambda case=case: case.call_func(env), test_s)
                passed, message = True, ""
            except Timeout:
                passed, message = False, f"stopped after {test_s:.0f} s (an endless loop, or far too slow)"
            except AssertionError as e:
                passed, message = False, str(e).strip("'")
            except Exception as e:  # noqa: BLE001 - the student's code failed inside the test
                passed, message = False, f"your code raised {type(e).__name__}: {str(e)[:400]}"
            if guard.off_hit:
                passed, message = False, f"{OFF_MESSAGE} (your code called growkit's {guard.off_hit})"
            if len(guard.refused) > before:
                passed, message = False, f"zero: the grading sandbox refused it: {'; '.join(guard.refused[before:])}"
            results.append({"question": question, "test": case.test_func.__name__, "points": float(case.points),
                            "passed": passed, "hidden": bool(case.hidden), "message": message})
    return results, possible


_IN_PROCESS: list[Guard] = []


def grade_in_process(nb, tests: dict[str, str], assignment: str) -> Outcome:
    """The child's grading in this process, without the sandbox: for the course's own tests of
    its assignments (quick; trusted notebooks), with the same off-switch and test runner."""
    guard = Guard("/", [], OFF.get(assignment, []))
    if not _IN_PROCESS:  # an audit hook cannot be removed: one, handing over to the latest guard
        sys.addaudithook(lambda event, args: _IN_PROCESS[-1].audit(event, args))
    _IN_PROCESS.append(guard)
    env, cell_errors = _run_cells(nb, guard, GRADING_PARAMETERS.get(assignment, {}), Limits.cell_s)
    results, possible = _run_tests(tests, env, guard, Limits.test_s)
    out = Outcome(possible=possible, cell_errors=cell_errors, violations=guard.refused, sandbox="in process")
    out.tests = [TestResult(**r) for r in results]
    return out


def child_main(config: dict) -> None:
    """Stage one, with the namespaces' privileges: the mounts; then it gives every capability up
    for good (setpriv: empty bounding set, no new privileges) and runs stage two, `guarded_main`."""
    if config["namespaces"]:
        _setup_namespace(config["work"], config["hide"])
        os.chdir(config["work"])  # the cwd still pointed into the read-only mount under the new one
    if SETPRIV:
        os.execv(SETPRIV, [SETPRIV, "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all",
                           "--no-new-privs", sys.executable, __file__, "--guarded", json.dumps(config)])
    guarded_main(config)


def guarded_main(config: dict) -> None:
    work = config["work"]
    _limit(config["limits"])
    out = os.fdopen(config["fd"], "w")

    def send(message: dict) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    # Everything the tests use is imported before the student's code runs (and before the hooks).
    import nbformat
    import torch
    from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401
    from otter.test_files import test_case  # noqa: F401

    import growkit
    import growkit.cnn
    import growkit.grow
    import growkit.speedup  # noqa: F401

    torch.set_num_threads(1)
    nb = nbformat.read(os.path.join(work, "submission.ipynb"), as_version=4)
    guard = Guard(work, config["hide"], config["off"])
    sys.addaudithook(guard.audit)
    before = _snapshot()
    env, cell_errors = _run_cells(nb, guard, config["parameters"], config["limits"]["cell_s"])
    violations = list(guard.refused)
    tampered = _tampered(before)
    if tampered:
        violations.append(f"replaced what the tests rely on: {', '.join(tampered)} (every question 0)")
    send({"event": "ready", "cell_errors": cell_errors, "violations": violations})
    message = json.loads(sys.stdin.readline())
    results, possible = _run_tests(message["tests"], env, guard, config["limits"]["test_s"])
    late = [v for v in guard.refused if v not in violations]
    if violations or _tampered(before):
        # It tried something while its notebook ran: no question can be trusted.
        for r in results:
            r["passed"], r["message"] = False, "zero: the grading sandbox refused what this notebook tried"
    send({"event": "results", "nonce": message["nonce"], "tests": results, "possible": possible,
          "violations": late})
    out.close()
    os._exit(0)  # no atexit handlers of the student's


if __name__ == "__main__" and sys.argv[1:2] in (["--child"], ["--guarded"]):
    sys.modules["grading_child"] = sys.modules["__main__"]
    (child_main if sys.argv[1] == "--child" else guarded_main)(json.loads(sys.argv[2]))
