"""Pictures of runs (matplotlib; reads files with h5py / csv, not the C library):

    python -m mbrl.plot RUN.h5 [-o run.png] [--episode N]   # a recorded MPC run (mbrl_mpc --record)
    python -m mbrl.plot --train LOGDIR [-o train.png]       # a training log (--logdir of
                                                            # mbrl_train / mbrl_a2c / mbrl.Log)

MPC run: one panel per state dimension with the true next state of every step against the
model's prediction of it (the planner's predicted next observation under the chosen action), the
action, the reward and the running return of the episode (and, for a run of several episodes,
every episode's return). Training log: the scalars of metrics.csv, loss curves together on a
log scale; a LOGDIR of several runs (LOGDIR/<run>/metrics.csv) draws one line per run.
Exit status 0, 1 on a missing or unreadable file, 2 on bad usage."""

import argparse
import csv
import os
import sys

TRAJ_FORMAT = "mbrl.mpc_trajectory"


def _obs_names(env_id, O):
    """The env's observation names from the library's registry (s[j] when it is not loaded)."""
    try:
        from .env import env_spec
        names = list(env_spec(env_id).obs_names)
        if len(names) == O:
            return names
    except Exception:
        pass
    return [f"s[{j}]" for j in range(O)]


class PlotError(Exception):
    pass


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def read_run(path):
    """The arrays and attributes of an mbrl_mpc --record file (PlotError when it is not one)."""
    import h5py
    import numpy as np
    if not os.path.exists(path):
        raise PlotError(f"'{path}' does not exist (make one with mbrl_mpc --record FILE)")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise PlotError(f"'{path}' is not a readable HDF5 file ({e})") from None
    with f:
        fmt = f.attrs.get("format")
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        if fmt != TRAJ_FORMAT:
            raise PlotError(f"'{path}' is not an MPC record (format {fmt!r}, expected "
                            f"{TRAJ_FORMAT!r}); for a training log use --train LOGDIR")
        need = ("observations", "actions", "rewards", "predicted_returns",
                "predicted_next_observations", "next_observations", "episode", "step")
        missing = [k for k in need if k not in f]
        if missing:
            raise PlotError(f"'{path}' lacks /{', /'.join(missing)}")
        run = {k: np.asarray(f[k]) for k in need}
        run["attrs"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    n = len(run["rewards"])
    if n == 0 or any(len(run[k]) != n for k in need):
        raise PlotError(f"'{path}' holds no steps or arrays of different lengths")
    return run


def plot_run(path, out, episode=0, dpi=80):
    import numpy as np
    run = read_run(path)
    eps = np.unique(run["episode"])
    if episode not in eps:
        raise PlotError(f"'{path}' has episodes {eps.min()}..{eps.max()}; --episode {episode} is not one")
    sel = run["episode"] == episode
    t = run["step"][sel]
    nxt, pred = run["next_observations"][sel], run["predicted_next_observations"][sel]
    act, rew = run["actions"][sel], run["rewards"][sel]
    at = run["attrs"]
    env_id = str(at.get("env_id", "?"))
    O, A = nxt.shape[1], act.shape[1]
    names = _obs_names(env_id, O)
    n_panels = O + 2 + (1 if len(eps) > 1 else 0)
    cols = 2
    rows = (n_panels + 1) // 2
    plt = _plt()
    fig, axes = plt.subplots(rows, cols, figsize=(10, 2.3 * rows), squeeze=False)
    axes = axes.ravel()
    for j in range(O):
        ax = axes[j]
        ax.plot(t, nxt[:, j], color="C0", lw=1.4, label="true next state")
        ax.plot(t, pred[:, j], color="C1", lw=1.0, ls="--", label="model's prediction")
        rmse = float(np.sqrt(np.mean((pred[:, j] - nxt[:, j]) ** 2)))
        ax.set_ylabel(names[j] if j < len(names) else f"s[{j}]")
        ax.set_title(f"{names[j] if j < len(names) else j}: one-step RMSE {rmse:.3g}", fontsize=9)
        if j == 0:
            ax.legend(fontsize=8, loc="best")
    ax = axes[O]
    for k in range(A):
        ax.plot(t, act[:, k], color=f"C{2 + k}", lw=1.0, label=f"a[{k}]")
    ax.set_ylabel("action")
    ax.set_title("action (first of the best sequence)", fontsize=9)
    ax = axes[O + 1]
    ax.plot(t, np.cumsum(rew.astype(np.float64)), color="C3", lw=1.4, label="return so far")
    ax2 = ax.twinx()
    ax2.plot(t, rew, color="C7", lw=0.8, alpha=0.7)
    ax2.set_ylabel("reward", color="C7", fontsize=8)
    ax.set_ylabel("return")
    ax.set_title(f"episode {episode}: return {float(rew.astype(np.float64).sum()):.1f}", fontsize=9)
    if len(eps) > 1:
        ax = axes[O + 2]
        rets = [float(run["rewards"][run["episode"] == e].astype(np.float64).sum()) for e in eps]
        ax.bar(eps, rets, color=["C3" if e == episode else "C0" for e in eps])
        ax.set_xlabel("episode")
        ax.set_ylabel("return")
        ax.set_title(f"returns: mean {np.mean(rets):.1f} over {len(eps)} episodes", fontsize=9)
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    for ax in axes[:O + 2]:
        ax.set_xlabel("step", fontsize=8)
    fig.suptitle(f"MPC on {env_id}: model {os.path.basename(str(at.get('model', '?')))}, "
                 f"K={at.get('samples', '?')} H={at.get('horizon', '?')}, seed {at.get('seed', '?')}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)


def read_log(logdir):
    """{run name: {tag: (steps, values)}} from LOGDIR/metrics.csv or LOGDIR/*/metrics.csv."""
    if not os.path.isdir(logdir):
        raise PlotError(f"'{logdir}' is not a directory (give the --logdir of a training run)")
    files = []
    if os.path.isfile(os.path.join(logdir, "metrics.csv")):
        files.append(("", os.path.join(logdir, "metrics.csv")))
    for d in sorted(os.listdir(logdir)):
        p = os.path.join(logdir, d, "metrics.csv")
        if os.path.isfile(p):
            files.append((d, p))
    if not files:
        raise PlotError(f"no metrics.csv in '{logdir}' or its subfolders")
    runs = {}
    for name, p in files:
        tags = {}
        with open(p, newline="") as f:
            r = csv.reader(f)
            head = next(r, None)
            if head != ["step", "tag", "value"]:
                raise PlotError(f"'{p}' does not start with the header step,tag,value")
            for i, row in enumerate(r, 2):
                if len(row) != 3:
                    raise PlotError(f"'{p}' line {i}: expected step,tag,value")
                try:
                    s, v = int(row[0]), float(row[2])
                except ValueError:
                    raise PlotError(f"'{p}' line {i}: not numbers: {row}") from None
                tags.setdefault(row[1], ([], []))
                tags[row[1]][0].append(s)
                tags[row[1]][1].append(v)
        runs[name or os.path.basename(os.path.normpath(logdir))] = tags
    return runs


def plot_train(logdir, out, dpi=80):
    runs = read_log(logdir)
    all_tags = sorted({t for tags in runs.values() for t in tags})
    if not all_tags:
        raise PlotError(f"the metrics.csv of '{logdir}' holds no rows")
    loss_tags = [t for t in all_tags if t.endswith("loss")]
    panels = ([("loss", loss_tags)] if loss_tags else []) + [(t, [t]) for t in all_tags if t not in loss_tags]
    cols = 1 if len(panels) == 1 else 2
    rows = (len(panels) + cols - 1) // cols
    plt = _plt()
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols + 1, 3 * rows), squeeze=False)
    axes = axes.ravel()
    for ax, (title, tags) in zip(axes, panels):
        k = 0
        for run, data in runs.items():
            for tag in tags:
                if tag not in data:
                    continue
                s, v = data[tag]
                label = tag if len(runs) == 1 else f"{run}: {tag}"
                ax.plot(s, v, lw=1.0, color=f"C{k % 10}", label=label,
                        marker="o" if len(s) < 30 else None, ms=3)
                k += 1
        if title == "loss" and all(v > 0 for data in runs.values() for t in tags if t in data
                                   for v in data[t][1]):
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.legend(fontsize=8)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(f"training log {logdir}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m mbrl.plot", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", nargs="?", help="an MPC record (mbrl_mpc --record FILE)")
    ap.add_argument("--train", metavar="LOGDIR", help="draw a training log instead")
    ap.add_argument("-o", "--out", help="the PNG (default: RUN with .png, or LOGDIR/train.png)")
    ap.add_argument("--episode", type=int, default=0, help="the episode of RUN to draw (default 0)")
    ap.add_argument("--dpi", type=int, default=80)
    a = ap.parse_args(argv)
    if (a.run is None) == (a.train is None):
        ap.error("give either RUN.h5 or --train LOGDIR")
    try:
        if a.train is not None:
            out = a.out or os.path.join(a.train, "train.png")
            plot_train(a.train, out, dpi=a.dpi)
        else:
            out = a.out or os.path.splitext(a.run)[0] + ".png"
            plot_run(a.run, out, episode=a.episode, dpi=a.dpi)
    except PlotError as e:
        print(f"mbrl.plot: error: {e}", file=sys.stderr)
        return 1
    except ImportError as e:
        print(f"mbrl.plot: error: {e} (pip install matplotlib h5py)", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"mbrl.plot: error: cannot write the picture: {e}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
