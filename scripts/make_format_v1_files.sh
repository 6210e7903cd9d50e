#!/usr/bin/env bash
# scripts/make_format_v1_files.sh [COMMIT] - write tests/data/v1/: one small file of each kind
# in format_version 1 (unsealed; variable-length string attributes), made by the programs of
# COMMIT (default 5f23b45, the last commit writing version 1), so that the tests can check that
# files of the previous format still load (tests/test_h5_integrity.cpp).
#   v1/dataset.h5      mbrl_collect: Pendulum-v1, 2 episodes of 10 steps, seed 5
#   v1/dynamics.h5     mbrl_train on it: hidden 8,8, 20 steps, seed 5
#   v1/policy.h5       mbrl_a2c: CartPole-v1, hidden 8,8, 400 steps, seed 5
#   v1/ensemble.h5     mbrl_a2c --ensemble 3: CartPole-v1, hidden 8, 200 steps, seed 5
#   v1/trajectory.h5   mbrl_mpc --record with dynamics.h5: 1 episode of 6 steps, K 16, H 4
# It exports COMMIT with `git archive` into a temporary directory, builds its programs there
# (CPU only), runs them, and copies the files; nothing else in the worktree changes.
set -euo pipefail
cd "$(dirname "$0")/.."
commit="${1:-5f23b45}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
git archive "$commit" | tar -x -C "$tmp"
cmake -S "$tmp" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DMBRL_CUDA=OFF \
  -DMBRL_BUILD_TESTS=OFF >/dev/null
cmake --build "$tmp/build" -j 2 --target mbrl_collect mbrl_train mbrl_a2c mbrl_mpc >/dev/null
bin="$tmp/build/bin"
out="$tmp/v1"
mkdir -p "$out"
"$bin/mbrl_collect" --env Pendulum-v1 --episodes 2 --max-steps 10 --seed 5 --out "$out/dataset.h5"
"$bin/mbrl_train" --data "$out/dataset.h5" --out "$out/dynamics.h5" --hidden 8,8 --steps 20 \
  --batch 8 --val-frac 0 --seed 5 --device cpu >/dev/null
"$bin/mbrl_a2c" --env CartPole-v1 --hidden 8,8 --steps 400 --seed 5 --eval-every 0 \
  --eval-episodes 1 --device cpu --quiet --save "$out/policy.h5" >/dev/null
"$bin/mbrl_a2c" --env CartPole-v1 --ensemble 3 --hidden 8 --steps 200 --seed 5 --eval-every 0 \
  --eval-episodes 1 --device cpu --quiet --save "$out/ensemble.h5" >/dev/null
"$bin/mbrl_mpc" --model "$out/dynamics.h5" --episodes 1 --max-steps 6 --samples 16 --horizon 4 \
  --seed 5 --device cpu --record "$out/trajectory.h5" >/dev/null
mkdir -p tests/data/v1
cp "$out"/*.h5 tests/data/v1/
ls -l tests/data/v1
