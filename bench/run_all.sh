#!/usr/bin/env bash
# bench/run_all.sh - build if needed, run every <build>/bin/bench_* program and the PyTorch
# reference with the same thread count, save their JSON under bench/results/<date>-<host>/
# (git-ignored) and write bench/RESULTS.md with bench/make_results.py.
#
#   ./bench/run_all.sh [--threads N] [--quick] [--build DIR] [--no-build] [--no-torch]
#                      [--paths LIST] [--cpu-time] [--note TEXT]
#
# Each bench program is run as  OMP_NUM_THREADS=N bench_X --threads N [--quick]  (once more
# without flags if it answers 2, bad usage) and must print ONE JSON object on stdout (schema:
# bench/README.md). The programs that run CPU kernels (bench_train, bench_mpc, bench_a2c,
# bench_peak) run once per CPU kernel path this CPU has (MBRL_CPU_KERNELS=avx512|avx2|generic;
# --paths avx2,generic picks some), bench_env once. With --threads 1 on a machine of 2+ cores,
# bench_mpc also runs with 2 threads (K 1024..16384, H 15, best path) for the scaling row.
# --cpu-time (single-threaded runs; MBRL_BENCH_CLOCK=cpu) times everything, the PyTorch side
# too, with the process's CPU time instead of the wall clock: for a shared, loaded machine (the
# 2-thread scaling row stays on the wall clock). Exit 0 when everything ran, 1 when something
# failed (RESULTS.md is still written, listing what failed), 2 on bad usage.
set -uo pipefail
cd "$(dirname "$0")/.."

prog="run_all.sh"
threads=1
quick=0
build=build
do_build=1
do_torch=1
note=""
want_paths=""
cpu_time=0
python=/usr/bin/python3
[[ -x "$python" ]] || python="$(command -v python3 || true)"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) [[ $# -ge 2 ]] || { echo "$prog: error: --threads needs a value" >&2; exit 2; }
               threads="$2"; shift 2 ;;
    --threads=*) threads="${1#*=}"; shift ;;
    --quick) quick=1; shift ;;
    --build) [[ $# -ge 2 ]] || { echo "$prog: error: --build needs a folder" >&2; exit 2; }
             build="$2"; shift 2 ;;
    --build=*) build="${1#*=}"; shift ;;
    --no-build) do_build=0; shift ;;
    --no-torch) do_torch=0; shift ;;
    --paths) [[ $# -ge 2 ]] || { echo "$prog: error: --paths needs a list, e.g. avx2,generic" >&2; exit 2; }
             want_paths="$2"; shift 2 ;;
    --paths=*) want_paths="${1#*=}"; shift ;;
    --cpu-time) cpu_time=1; shift ;;
    --note) [[ $# -ge 2 ]] || { echo "$prog: error: --note needs a text" >&2; exit 2; }
            note="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "$prog: error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ "$threads" =~ ^[1-9][0-9]*$ ]]; then
  echo "$prog: error: --threads must be a positive integer, got '$threads'" >&2; exit 2
fi
if [[ $cpu_time -eq 1 && "$threads" != 1 ]]; then
  echo "$prog: error: --cpu-time needs --threads 1 (CPU time adds the threads up)" >&2; exit 2
fi
if [[ -z "$python" ]]; then
  echo "$prog: error: no python3 found (make_results.py needs it; install python3)" >&2; exit 1
fi

# ---- build if needed
if [[ $do_build -eq 1 ]]; then
  if [[ -f "$build/CMakeCache.txt" ]]; then
    echo "$prog: building $build (incremental)" >&2
    cmake --build "$build" -j "$(nproc)" >&2 || { echo "$prog: error: build of $build failed" >&2; exit 1; }
  else
    echo "$prog: configuring and building $build (./scripts/build $build)" >&2
    ./scripts/build "$build" >&2 || { echo "$prog: error: ./scripts/build $build failed" >&2; exit 1; }
  fi
fi

host="$(hostname -s 2>/dev/null || hostname)"
stamp="$(date +%Y%m%d-%H%M%S)"
out="bench/results/${stamp}-${host}"
mkdir -p "$out" || { echo "$prog: error: cannot create $out" >&2; exit 1; }
echo "$prog: results go to $out (threads $threads$([[ $quick -eq 1 ]] && echo ', quick'))" >&2

export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
unset MBRL_CPU_KERNELS MBRL_BENCH_CLOCK
[[ $cpu_time -eq 1 ]] && export MBRL_BENCH_CLOCK=cpu

# ---- the CPU kernel paths to measure: what this CPU runs (bench_peak --paths), or --paths
paths=()
if [[ -x "$build/bin/bench_peak" ]]; then
  mapfile -t paths < <("$build/bin/bench_peak" --paths)
fi
if [[ -n "$want_paths" ]]; then
  IFS=',' read -r -a req <<<"$want_paths"
  for p in "${req[@]}"; do
    if [[ " ${paths[*]} " != *" $p "* ]]; then
      echo "$prog: error: --paths: this CPU does not run the '$p' kernel path (it runs: ${paths[*]:-?})" >&2
      exit 2
    fi
  done
  paths=("${req[@]}")
fi
[[ ${#paths[@]} -gt 0 ]] || paths=("")
echo "$prog: CPU kernel paths: ${paths[*]:-default}" >&2
commands=()
failed=()

valid_json() { "$python" -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.exit(0 if isinstance(o, dict) else 1)' "$1" 2>/dev/null; }

# run_one NAME CMD...: stdout -> $out/NAME.json, stderr -> $out/NAME.log
run_one() {
  local name="$1"; shift
  echo "$prog: running $*" >&2
  "$@" >"$out/$name.json" 2>"$out/$name.log"
  local rc=$?
  echo "$rc"
}

shopt -s nullglob
benches=()
for b in "$build"/bin/bench_*; do
  [[ -f "$b" && -x "$b" ]] && benches+=("$b")
done
if [[ ${#benches[@]} -eq 0 ]]; then
  echo "$prog: warning: no bench_* programs in $build/bin (only the PyTorch reference will run)" >&2
fi

# run_bench NAME-IN-RESULTS PATH-OR-EMPTY THREADS BIN [FLAGS...]
run_bench() {
  local name="$1" kpath="$2" nthr="$3" b="$4"; shift 4
  local flags=(--threads "$nthr" "$@")
  [[ $quick -eq 1 ]] && flags+=(--quick)
  local envs=(OMP_NUM_THREADS="$nthr")
  [[ -n "$kpath" ]] && envs+=(MBRL_CPU_KERNELS="$kpath")
  local rc cmd
  rc=$(run_one "$name" env "${envs[@]}" "$b" "${flags[@]}")
  cmd="${envs[*]} $b ${flags[*]}"
  if [[ "$rc" == 2 ]]; then
    echo "$prog: $(basename "$b") did not take '${flags[*]}' (exit 2); running it with no flags" >&2
    rc=$(run_one "$name" env "${envs[@]}" "$b")
    cmd="${envs[*]} $b"
  fi
  commands+=("$cmd")
  if [[ "$rc" != 0 ]]; then
    failed+=("$name exited $rc: $(tail -n 2 "$out/$name.log" | tr '\n' ' ')")
    mv "$out/$name.json" "$out/$name.failed.txt"
  elif ! valid_json "$out/$name.json"; then
    failed+=("$name printed no single JSON object on stdout (kept in $name.failed.txt)")
    mv "$out/$name.json" "$out/$name.failed.txt"
  fi
}

for b in "${benches[@]}"; do
  name="$(basename "$b")"
  case "$name" in
    bench_train|bench_mpc|bench_a2c|bench_peak)
      for p in "${paths[@]}"; do run_bench "$name${p:+.$p}" "$p" "$threads" "$b"; done ;;
    *) run_bench "$name" "" "$threads" "$b" ;;
  esac
done
# two threads next to one: the plan's scaling (best path)
if [[ "$threads" == 1 && "$(getconf _NPROCESSORS_ONLN)" -ge 2 && -x "$build/bin/bench_mpc" ]]; then
  # wall clock: the point is the elapsed time; with --cpu-time a 1-thread wall-clock twin too
  unset MBRL_BENCH_CLOCK
  if [[ $cpu_time -eq 1 ]]; then
    run_bench "bench_mpc.${paths[0]:-default}.1thread_wall" "${paths[0]}" 1 "$build/bin/bench_mpc" \
      --samples 1024,4096,16384 --horizons 15
  fi
  run_bench "bench_mpc.${paths[0]:-default}.2threads" "${paths[0]}" 2 "$build/bin/bench_mpc" \
    --samples 1024,4096,16384 --horizons 15
  [[ $cpu_time -eq 1 ]] && export MBRL_BENCH_CLOCK=cpu
fi

if [[ $do_torch -eq 1 ]]; then
  flags=(--threads "$threads")
  [[ $quick -eq 1 ]] && flags+=(--quick)
  rc=$(run_one torch_reference "$python" bench/torch_reference.py "${flags[@]}")
  commands+=("$python bench/torch_reference.py ${flags[*]}")
  if [[ "$rc" != 0 ]] || ! valid_json "$out/torch_reference.json"; then
    failed+=("torch_reference.py exited $rc: $(tail -n 2 "$out/torch_reference.log" | tr '\n' ' ')")
    mv "$out/torch_reference.json" "$out/torch_reference.failed.txt"
  fi
fi

# ---- the Python package (bench/bench_python.py in the project venv, against $build's library)
if [[ -x "$build/bin/mbrl_mpc" && -f "$build/lib/libmbrl.so" ]] && venv_py="$(./scripts/venv 2>"$out/venv.log")"; then
  flags=(--threads "$threads" --build "$build")
  [[ $quick -eq 1 ]] && flags+=(--quick)
  rc=$(MBRL_LIBRARY="$PWD/$build/lib/libmbrl.so" run_one bench_python "$venv_py" bench/bench_python.py "${flags[@]}")
  commands+=("OMP_NUM_THREADS=$threads .venv/bin/python bench/bench_python.py ${flags[*]}")
  if [[ "$rc" != 0 ]] || ! valid_json "$out/bench_python.json"; then
    failed+=("bench_python.py exited $rc: $(tail -n 2 "$out/bench_python.log" | tr '\n' ' ')")
    mv "$out/bench_python.json" "$out/bench_python.failed.txt"
  fi
else
  failed+=("bench_python.py not run: no $build/lib/libmbrl.so or mbrl_mpc, or ./scripts/venv failed ($out/venv.log)")
fi

# ---- run.json: what was run, for RESULTS.md
gpu=""
if command -v nvidia-smi >/dev/null 2>&1; then gpu="$(nvidia-smi -L 2>/dev/null | head -n 1)"; fi
git_rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then git_rev="$git_rev (with local changes)"; fi
RUN_CLOCK="$([[ $cpu_time -eq 1 ]] && echo cpu || echo wall)" \
RUN_DATE="$(date -Iseconds)" RUN_HOST="$host" RUN_THREADS="$threads" RUN_QUICK="$quick" \
RUN_GIT="$git_rev" RUN_GPU="$gpu" RUN_NOTE="$note" \
"$python" - "$out/run.json" "${#commands[@]}" "${commands[@]}" "${failed[@]}" <<'EOF'
import json, os, sys
path, n = sys.argv[1], int(sys.argv[2])
cmds, failed = sys.argv[3:3 + n], sys.argv[3 + n:]
e = os.environ
meta = {"date": e["RUN_DATE"], "host": e["RUN_HOST"], "threads": int(e["RUN_THREADS"]),
        "clock": e["RUN_CLOCK"],
        "quick": e["RUN_QUICK"] == "1", "git": e["RUN_GIT"], "gpu": e["RUN_GPU"] or None,
        "note": e["RUN_NOTE"] or None, "commands": ["./bench/run_all.sh " + " ".join(
            (["--threads", e["RUN_THREADS"]] + (["--quick"] if e["RUN_QUICK"] == "1" else [])
             + (["--cpu-time"] if e["RUN_CLOCK"] == "cpu" else [])))] + cmds,
        "failed": failed}
with open(path, "w") as f:
    json.dump(meta, f, indent=1)
EOF

"$python" bench/make_results.py "$out" || { echo "$prog: error: make_results.py failed" >&2; exit 1; }
if [[ ${#failed[@]} -gt 0 ]]; then
  printf '%s: error: %s\n' "$prog" "${failed[@]}" >&2
  exit 1
fi
echo "$prog: done: bench/RESULTS.md (raw JSON in $out)" >&2
