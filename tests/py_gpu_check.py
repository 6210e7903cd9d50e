#!/usr/bin/python3
"""py_gpu_check.py - scripts/gpu-check finds, runs and counts tests and sanitizer reports right.

gpu-check's GPU half (compute-sanitizer over the CUDA tests) cannot run on a machine without a
GPU, so this checks its parts against real test programs and a stand-in compute-sanitizer:
  - list_tests/read_gtest_json/summarize_tests on real runs of BIN/test_nn_cuda and
    BIN/test_status_device: every test listed, CUDA tests found by the gtest property mbrl_cuda
    that MBRL_REQUIRE_GPU records ("skipped: no GPU" without a GPU, "ran" with one), results read;
  - sanitizer_phase with a stand-in sanitizer (a shell script that runs the test and prints the
    summary lines compute-sanitizer prints): per-tool counts of checked runs and errors, racecheck's
    hazard summary, a tool that prints no summary counted as a tool failure (never as 0 errors),
    and nothing started once the budget's deadline has passed.
Exit 0 pass, 1 fail, 77 skip (scripts/gpu-check not beside this file's tree, e.g. in the bundle).
Usage: /usr/bin/python3 tests/py_gpu_check.py --bin BUILD/bin
"""
import argparse
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GPU_CHECK = os.path.join(os.path.dirname(HERE), "scripts", "gpu-check")

FAKE_SANITIZER = r"""#!/bin/sh
# stand-in compute-sanitizer: --tool T [options] PROGRAM ARGS...
tool=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tool) tool="$2"; shift 2 ;;
    --target-processes|--error-exitcode|--print-limit|--racecheck-report) shift 2 ;;
    *) break ;;
  esac
done
echo "========= COMPUTE-SANITIZER"
"$@"
rc=$?
case "$tool" in
  memcheck) echo "========= ERROR SUMMARY: 0 errors" ;;
  initcheck) echo "========= Uninitialized __global__ memory read"; echo "========= ERROR SUMMARY: 3 errors"; exit 86 ;;
  racecheck) echo "========= RACECHECK SUMMARY: 2 hazards displayed (1 error, 1 warning)"; exit 86 ;;
  synccheck) echo "========= Error: Device not supported" ; exit 1 ;;
esac
exit $rc
"""


def load_gpu_check():
    sys.dont_write_bytecode = True  # no __pycache__ beside scripts/gpu-check
    loader = importlib.machinery.SourceFileLoader("gpu_check", GPU_CHECK)
    spec = importlib.util.spec_from_loader("gpu_check", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="directory holding the test programs")
    args = ap.parse_args()
    if not os.path.isfile(GPU_CHECK):
        print(f"py_gpu_check: skipped: {GPU_CHECK} not found")
        return 77
    for p in ("test_nn_cuda", "test_status_device"):
        if not os.access(os.path.join(args.bin, p), os.X_OK):
            print(f"py_gpu_check: skipped: {p} not built in {args.bin}")
            return 77
    gc = load_gpu_check()
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print(f"FAIL: {what}")

    env = dict(os.environ)
    nn_cuda = os.path.join(args.bin, "test_nn_cuda")
    status = os.path.join(args.bin, "test_status_device")
    names, out = gc.list_tests(nn_cuda, env, quick=False)
    check(names and all(n.startswith("NnCuda.") for n in names) and len(names) >= 5,
          f"test_nn_cuda's tests listed: {names}")
    snames, _ = gc.list_tests(status, env, quick=False)
    check(bool(snames), "test_status_device's tests listed")

    with tempfile.TemporaryDirectory() as tmp:
        # real runs, one process per test, as gpu-check does them
        results = {}
        for prog, name in [(nn_cuda, names[0]), (status, snames[0])]:
            js = os.path.join(tmp, gc.safe(name) + ".json")
            r = gc.run_job([prog, f"--gtest_filter={name}", f"--gtest_output=json:{js}"],
                           os.path.join(tmp, gc.safe(name) + ".log"), env, None, 120)
            # the CUDA test may fail on a GPU (its own ctest entry reports that); it must finish
            check(r["rc"] == 0 or (prog == nn_cuda and r["rc"] == 1), f"{name} exit 0 (got {r['rc']})")
            g = gc.read_gtest_json(js)
            check(g is not None, f"{name}: gtest JSON read")
            if g:
                g.update(program=os.path.basename(prog), name=name)
                results[f"{os.path.basename(prog)}:{name}"] = g
        cuda = results.get(f"test_nn_cuda:{names[0]}", {})
        plain = results.get(f"test_status_device:{snames[0]}", {})
        check(cuda.get("cuda") in ("ran", "skipped: no GPU", "skipped: built without the CUDA backend"),
              f"a CUDA test carries the property mbrl_cuda (got {cuda.get('cuda')!r})")
        if cuda.get("cuda") == "skipped: no GPU":
            check(cuda.get("result") == "skipped", "without a GPU the CUDA test is skipped")
            log = open(os.path.join(tmp, gc.safe(names[0]) + ".log")).read()
            check("no GPU" in log, "the skip message says \"no GPU\"")
        check(plain.get("cuda") is None, "a CPU test has no mbrl_cuda property")
        s = gc.summarize_tests(results, [])
        check(s["cuda"]["total"] == 1 and s["total"] == 2, f"summary counts CUDA tests: {s['cuda']}")

        # sanitizers, with the stand-in
        san = os.path.join(tmp, "compute-sanitizer")
        with open(san, "w") as f:
            f.write(FAKE_SANITIZER)
        os.chmod(san, 0o755)
        tests = [(status, n, 0.1 * i) for i, n in enumerate(snames[:2])]
        per, runs = gc.sanitizer_phase(san, tests, env, os.path.join(tmp, "logs"), 2,
                                       time.monotonic() + 300)
        n = len(tests)
        check(per["memcheck"]["checked"] == n and per["memcheck"]["errors"] == 0,
              f"memcheck: {n} checked, 0 errors (got {per['memcheck']})")
        check(per["initcheck"]["checked"] == n and per["initcheck"]["errors"] == 3 * n,
              f"initcheck: 3 errors per run counted (got {per['initcheck']})")
        check(per["racecheck"]["errors"] == n and per["racecheck"]["warnings"] == n,
              f"racecheck: hazard summary read (got {per['racecheck']})")
        check(per["synccheck"]["tool_failed"] == n and per["synccheck"]["checked"] == 0,
              f"synccheck: no summary line is a tool failure (got {per['synccheck']})")
        check(all(r.get("test_result") == "passed" for r in runs if r["status"] == "checked"),
              "the test passes under the stand-in sanitizer")
        check(all(p["test_failed"] == 0 for p in per.values()), "no test counted as failed")
        check(gc.parse_sanitizer_log("no summary here", "memcheck") == (None, 0),
              "a log without a summary gives no error count")
        # budget spent: nothing starts
        per2, _ = gc.sanitizer_phase(san, tests, env, os.path.join(tmp, "logs2"), 2,
                                     time.monotonic() - 1)
        check(all(p["not_run"] == n and p["checked"] == 0 for p in per2.values()),
              "past the deadline no sanitizer run starts")
    if failures:
        print(f"py_gpu_check: {len(failures)} checks failed")
        return 1
    print("py_gpu_check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
