"""Long library calls release the GIL (ctypes.CDLL does for every call): while a plan of 2^17
rollouts runs in C on one thread, Python code runs on another. With the GIL held, no bytecode of
the other thread could run inside the call's time window."""

import threading
import time

import numpy as np

import mbrl


def test_plan_releases_the_gil():
    planner = mbrl.Planner("oracle", "Pendulum-v1", samples=1 << 17, horizon=60, device="cpu")
    obs = np.array([-1.0, 0.0, 0.0], np.float32)
    windows, done = [], threading.Event()

    def plans():
        for _ in range(3):
            t0 = time.perf_counter()
            planner.plan(obs)
            windows.append((t0, time.perf_counter()))
        done.set()

    stamps = []
    th = threading.Thread(target=plans)
    th.start()
    while not done.is_set():
        stamps.append(time.perf_counter())
        time.sleep(0)
    th.join()
    stamps = np.array(stamps)
    inside = sum(int(((stamps > a + 0.2 * (b - a)) & (stamps < b - 0.2 * (b - a))).sum())
                 for a, b in windows)
    assert inside > 0, f"no Python ran during {len(windows)} plans of {windows[0][1] - windows[0][0]:.3f} s"
