"""Mutation check of the test suite: does every realistic bug of `mutations.py` make a test
fail?

    python tests/mutation/run.py                 # every mutation
    python tests/mutation/run.py -k pruning      # the ones whose name contains "pruning"
    python tests/mutation/run.py --list

Copies the repository (den_tf/ and tests/, without .git) to a scratch directory, runs
every listed test file once on the unmutated copy (they must pass), then for each
mutation: puts it into the copy, runs its tests with `pytest -x -q`, restores the file.
Prints one line per mutation (caught / ESCAPED, seconds) and exits 1 if one escaped.
Not a pytest module (pytest does not collect this directory, see tests/conftest.py), not
run by CI: it took about 28 minutes for 65 mutations on 2 cores shared with training runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from mutations import MUTATIONS  # noqa: E402


def _shared(name: str, env: str) -> str:
    return os.environ.get(env, os.path.join(ROOT, "..", "shared", name))


def scratch_copy(dest: str) -> str:
    repo = os.path.join(dest, "repo")
    ignore = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".pytest_cache",
                                    ".venv*", "logs")
    os.makedirs(repo)
    for name in os.listdir(ROOT):
        src = os.path.join(ROOT, name)
        if name in (".git", "logs") or name.startswith(".venv"):
            continue
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(repo, name), ignore=ignore)
        else:
            shutil.copy2(src, os.path.join(repo, name))
    return repo


def run_tests(repo: str, args, timeout: float = 1800) -> tuple:
    env = dict(os.environ, PYTHONPATH=repo, TF_CPP_MIN_LOG_LEVEL="2",
               DEN_TF_MNIST=os.path.abspath(_shared("mnist", "DEN_TF_MNIST")),
               DEN_TF_TRACE=os.path.abspath(_shared("trace", "DEN_TF_TRACE")),
               DEN_TF_REFERENCE=os.path.abspath(_shared("reference", "DEN_TF_REFERENCE")))
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                            *args], cwd=repo, env=env, capture_output=True, text=True,
                           timeout=timeout)
        code, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        code, out = -1, "timeout"
    return code, out, time.perf_counter() - t0


def original_text(repo: str, m) -> str:
    """The file of mutation m; exits if m's snippet does not occur exactly once in it."""
    with open(os.path.join(repo, m.file)) as f:
        text = f.read()
    n = text.count(m.original)
    if n != 1:
        raise SystemExit(f"mutation {m.name!r}: its snippet occurs {n} times in {m.file} "
                         f"(must be exactly once): update mutations.py")
    return text


def verdict(code: int) -> str:
    """pytest's exit status: 1 tests failed (caught), 0 all passed (escaped); anything
    else (no test selected, usage error, interrupted, timeout) is an error of the list."""
    return {0: "ESCAPED", 1: "caught"}.get(code, f"error {code}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-k", default="", help="only mutations whose name contains this")
    p.add_argument("--list", action="store_true", help="list the mutations and stop")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    a = p.parse_args(argv)
    chosen = [m for m in MUTATIONS if a.k.lower() in m.name.lower()]
    if a.list:
        for m in chosen:
            print(f"{m.name:62s} {m.file:28s} {' '.join(m.tests)}")
        return 0
    scratch = tempfile.mkdtemp(prefix="den_tf_mutation_")
    try:
        repo = scratch_copy(scratch)
        for m in chosen:  # every snippet must be found before anything runs
            original_text(repo, m)
        files = sorted({t.split("::")[0] for m in chosen for t in m.tests
                        if t.startswith("tests/")})
        code, out, secs = run_tests(repo, files)
        print(f"baseline: {len(files)} test files on the unmutated copy: "
              f"{'pass' if code == 0 else 'FAIL'} ({secs:.0f} s)", flush=True)
        if code != 0:
            print(out[-3000:])
            return 2
        width = max(len(m.name) for m in chosen)
        print(f"| {'mutation':{width}s} | result  | seconds | tests")
        print(f"|{'-' * (width + 2)}|---------|---------|------")
        caught = 0
        for m in chosen:
            original = original_text(repo, m)
            path = os.path.join(repo, m.file)
            with open(path, "w") as f:
                f.write(original.replace(m.original, m.replacement))
            try:
                code, out, secs = run_tests(repo, m.tests)
            finally:
                with open(path, "w") as f:
                    f.write(original)
            result = verdict(code)
            caught += result == "caught"
            print(f"| {m.name:{width}s} | {result:7s} | {secs:7.1f} | {' '.join(m.tests)}",
                  flush=True)
            if result.startswith("error"):
                print(out[-2000:])
        print(f"{caught} of {len(chosen)} mutations caught")
        return 0 if caught == len(chosen) else 1
    finally:
        if a.keep:
            print(f"scratch copy kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
