"""What the benchmarks share: optional imports, the machine's description, interleaved timing, peak
memory, and table formatting.

Timing. :func:`time_interleaved` warms every system up, then runs ``repeats`` rounds; in each round
every system does one unit of work (one training step, or one batch of op calls), timed alone with
``time.perf_counter`` between two synchronisations (a no-op on the CPU, the device's on a GPU). The
order of the systems rotates from round to round, so slow drift (other processes on the machine,
thermal or frequency changes) and any "who ran just before" effect hit every system alike. With more than one
thread and two thread pools taking turns (NumPy's and PyTorch's), an untimed pause precedes every run
(:func:`default_gap_s`). Python's
garbage collector stays on: collecting minigan's tape objects is part of minigan's cost. Reports are
medians with the 25th–75th percentiles, which a busy machine's occasional slow step does not move.

Memory. Each function here measures the peak of the memory *newly allocated while one step runs*,
above what was live when it started (allocations made earlier and freed during the step are ignored),
and returns it with a sentence saying how it was measured:

- NumPy (minigan, floor): ``tracemalloc`` — NumPy reports its array buffers to it, and Python objects
  (minigan's tensors and closures) are counted too;
- PyTorch CPU: the ``[memory]`` events of ``torch.profiler`` with ``profile_memory=True``, i.e. the
  allocations and frees reported by PyTorch's CPU allocator, replayed with the same rule; if the
  profiler fails, the process's RSS high-water mark over the step (Linux ``VmHWM`` after resetting it);
- CuPy: a ``cupy.cuda.MemoryHook`` replaying the memory pool's mallocs and frees with the same rule;
- PyTorch CUDA: ``torch.cuda.max_memory_allocated()`` minus ``memory_allocated()`` at the start.
"""

import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc

import numpy as np

BENCH_EXTRA_HINT = 'install the bench extra: pip install "minigan[bench]"'


# ------------------------------------------------------------------------------------- imports
def load_torch():
    """(torch, None) if PyTorch imports, else (None, the reason)."""
    try:
        import torch  # noqa: PLC0415
    except ImportError as exc:
        return None, f"PyTorch is not installed ({exc}); {BENCH_EXTRA_HINT}"
    except Exception as exc:  # a broken install raises OSError & co. from its native libraries
        return None, f"import torch failed ({type(exc).__name__}: {exc})"
    return torch, None


def load_jax(threads=None):
    """(jax, None) if JAX imports (its CPU backend started), else (None, the reason).

    XLA sizes its CPU thread pool once, when the backend starts, from the cores the process may run on
    (no flag of JAX 0.10 limits it: ``--xla_cpu_multi_thread_eigen=false`` left it at two threads on two
    cores). So with ``threads`` N, the backend is started while the process is allowed N cores only, and
    the affinity is restored afterwards: XLA then runs N threads, as NumPy's BLAS and PyTorch are given."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        if threads and allowed and threads < len(allowed) and "jax" not in sys.modules:
            os.sched_setaffinity(0, set(sorted(allowed)[:threads]))
        import jax  # noqa: PLC0415

        jax.numpy.zeros(1).block_until_ready()  # start the backend (and size its pool) now
    except ImportError as exc:
        return None, f"JAX is not installed ({exc}); {BENCH_EXTRA_HINT}"
    except Exception as exc:
        return None, f"import jax failed ({type(exc).__name__}: {exc})"
    finally:
        if allowed:
            os.sched_setaffinity(0, allowed)
    return jax, None


def requested_jax(args, what="JAX comparison"):
    """(jax, None), or (None, why not): JAX started for ``args.threads`` unless ``--no-jax`` was given; the
    reason is printed when it is skipped."""
    jax, reason = (None, "--no-jax was given") if args.no_jax else load_jax(args.threads)
    if jax is None:
        print(f"{what} skipped: {reason}")
    return jax, reason


def jax_adam_update(jax, params, grads, m, v, t, lr, betas, eps=1e-8):
    """PyTorch's Adam rule on JAX pytrees, for the JAX peers: (params, m, v) after step ``t`` (counted from
    1): m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², θ ← θ − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)."""
    tree_map, jnp = jax.tree_util.tree_map, jax.numpy
    beta1, beta2 = betas
    m = tree_map(lambda m, g: beta1 * m + (1 - beta1) * g, m, grads)
    v = tree_map(lambda v, g: beta2 * v + (1 - beta2) * g * g, v, grads)
    step_size, root = lr / (1 - beta1 ** t), jnp.sqrt(1 - beta2 ** t)
    params = tree_map(lambda p, m, v: p - step_size * m / (jnp.sqrt(v) / root + eps), params, m, v)
    return params, m, v


def load_cupy():
    """(cupy, None) if CuPy and a usable GPU are present, else (None, the reason) — minigan's own check."""
    from minigan.backends import load_cupy as _load
    from minigan.errors import BackendUnavailableError

    try:
        return _load(), None
    except BackendUnavailableError as exc:
        return None, str(exc)


_BLAS_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
                 "openblas_set_num_threads", "MKL_Set_Num_Threads")


def set_numpy_threads(n):
    """Limit NumPy's BLAS to ``n`` threads (threadpoolctl if installed, else OpenBLAS's or MKL's own
    setter found with ctypes in the libraries this process has loaded). Returns how it was done, or
    None if no known BLAS could be told."""
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415

        threadpool_limits(n, user_api="blas")
        return f"threadpoolctl.threadpool_limits({n}, 'blas')"
    except ImportError:
        pass
    import ctypes  # noqa: PLC0415

    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if line.rstrip().endswith(".so") or ".so." in line})
    except OSError:
        return None
    for path in paths:
        name = os.path.basename(path).lower()
        if "openblas" not in name and "mkl_rt" not in name:
            continue
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in _BLAS_SETTERS:
            setter = getattr(library, symbol, None)
            if setter is not None:
                setter(ctypes.c_int(n))
                return f"{symbol}({n}) in {os.path.basename(path)}"
    return None


def configure_threads(threads, torch=None):
    """Give NumPy's BLAS (and PyTorch, if given) ``threads`` threads (None: all cores); a dict saying
    what was done, with a warning when other processes already load the cores."""
    cores = cpu_cores()
    n = threads or cores
    how = set_numpy_threads(n)
    parts = [f"NumPy BLAS {n} ({how})" if how else f"NumPy BLAS: unchanged (no known BLAS setter found; asked {n})"]
    if torch is not None:
        torch.set_num_threads(n)
        parts.append(f"PyTorch {torch.get_num_threads()} (torch.set_num_threads)")
    info = {"threads": n, "cores": cores, "numpy_blas": how, "description": "; ".join(parts)}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if n > 1 and load > 0.5:
        info["warning"] = (f"load average {load:.2f} on {cores} cores before starting: other processes are running, "
                           f"and {n} BLAS/OpenMP threads may wait on descheduled workers; compare with --threads 1")
    return info


def cpu_cores():
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas():
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older NumPy: no dict mode
        return "unknown"


def machine_info(torch=None, cupy=None):
    """A dict describing where the numbers were taken."""
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": cpu_cores(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": _blas(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    if cupy is not None:
        info["cupy"] = cupy.__version__
        try:
            props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
            info["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        except Exception:
            info["gpu"] = "unknown"
    return info


def describe_machine(info):
    parts = [f"{info['cpu']}, {info['cores']} cores", f"Python {info['python']}",
             f"NumPy {info['numpy']} ({info['blas']})"]
    if "torch" in info:
        parts.append(f"PyTorch {info['torch']} ({info['torch_threads']} threads)")
    if "cupy" in info:
        parts.append(f"CuPy {info['cupy']} on {info.get('gpu')}")
    if info.get("load_average"):
        parts.append("load average at start " + ", ".join(f"{x:.2f}" for x in info["load_average"]))
    return "; ".join(parts)


# ------------------------------------------------------------------------------------- timing
def _noop():
    pass


class Timed:
    """A unit of work to time: ``run()`` does it, ``sync()`` waits for the device (no-op on the CPU)."""

    def __init__(self, name, run, sync=None):
        self.name = name
        self.run = run
        self.sync = sync or _noop


def default_gap_s(gap_ms, threads, mixed=True):
    """The pause before each timed run: ``gap_ms`` if given, else 120 ms when ``threads`` > 1 and
    ``mixed`` (NumPy and PyTorch, two thread pools, take turns), else 0.

    Why a pause with several threads: after a BLAS call OpenBLAS's idle worker threads keep spinning
    (calling sched_yield) for about 2^28 cycles (~0.1 s) before they sleep, and PyTorch's OpenMP
    workers spin too. Run right after NumPy, PyTorch's threads then share the cores with those
    spinners (measured here: a batch-64 PyTorch step 3-4x slower interleaved than alone); 120 ms lets
    the previous system's workers go to sleep first. With one thread there are no workers to wait for,
    and systems that share one thread pool (minigan and the floor, both NumPy) do not get in each
    other's way.
    """
    if gap_ms is not None:
        return gap_ms / 1e3
    return 0.12 if threads > 1 and mixed else 0.0


def time_interleaved(items, repeats, warmup, budget_s=None, min_repeats=5, gap_s=0.0):
    """Seconds per run of each item, ``{name: [t, ...]}``, timed round-robin (see the module docstring).

    With ``budget_s``, the number of rounds is lowered (never below ``min_repeats``) so that the timed
    rounds take about ``budget_s`` seconds, judged from the last warm-up round. ``gap_s``: an untimed
    pause before every run (see :func:`default_gap_s`).
    """
    times = time_interleaved_clocks(items, repeats, warmup, budget_s, min_repeats, gap_s, cpu_clock=None)
    return {name: t["wall"] for name, t in times.items()}


def time_interleaved_clocks(items, repeats, warmup, budget_s=None, min_repeats=5, gap_s=0.0,
                            cpu_clock=time.process_time):
    """:func:`time_interleaved` with a second clock: ``{name: {"wall": [t, ...], "cpu": [t, ...]}}``, the
    CPU seconds of each run read from ``cpu_clock`` (this process's by default; ``time.thread_time`` for
    this thread's) around the same run as the wall seconds. On a machine shared by more processes than
    cores, a run's wall time includes the time other processes hold its core — the longer the run, the
    more — while its CPU time does not. ``cpu_clock=None`` reads no second clock (the lists stay empty).
    """
    warm = {}
    for _ in range(max(warmup, 1) if budget_s else warmup):
        for item in items:
            warm[item.name] = _time_once(item, gap_s, cpu_clock)[0]
    if budget_s and warm:
        per_round = sum(warm.values())
        repeats = min(repeats, max(min_repeats, int(budget_s / max(per_round, 1e-9))))
    times = {item.name: {"wall": [], "cpu": []} for item in items}
    k = len(items)
    for r in range(repeats):
        for item in items[r % k:] + items[:r % k]:
            wall, cpu = _time_once(item, gap_s, cpu_clock)
            times[item.name]["wall"].append(wall)
            if cpu_clock is not None:
                times[item.name]["cpu"].append(cpu)
    return times


def _time_once(item, gap_s, cpu_clock=None):
    """(wall seconds, CPU seconds or None) of one synchronised ``item.run()``, after an untimed pause of
    ``gap_s``; the CPU seconds from ``cpu_clock`` when one is given."""
    if gap_s:
        time.sleep(gap_s)
    item.sync()
    cpu_start = cpu_clock() if cpu_clock is not None else None
    start = time.perf_counter()
    item.run()
    item.sync()
    wall = time.perf_counter() - start
    return wall, (cpu_clock() - cpu_start if cpu_clock is not None else None)


def summarize(seconds, scale=1e3):
    """Median, quartiles and minimum of a list of durations, in ms (``scale`` 1e3) or µs (1e6)."""
    values = sorted(s * scale for s in seconds)
    if len(values) >= 2:
        q = statistics.quantiles(values, n=4, method="inclusive")
        p25, p75 = q[0], q[2]
    else:
        p25 = p75 = values[0]
    return {"median": statistics.median(values), "p25": p25, "p75": p75, "min": values[0], "n": len(values)}


# ------------------------------------------------------------------------------------- memory
def tracemalloc_peak(fn):
    """Peak bytes newly allocated (and reported to tracemalloc) while ``fn()`` runs."""
    if tracemalloc.is_tracing():
        raise RuntimeError("tracemalloc is already tracing; the peak would mix with that session")
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - start, "tracemalloc peak during one step (NumPy buffers + Python objects)"


def _replay_peak(events):
    """Peak of live bytes from (address, +size | −size) events, ignoring frees of unseen addresses."""
    live, current, peak = {}, 0, 0
    for address, size in events:
        if size > 0:
            live[address] = live.get(address, 0) + size
            current += size
            peak = max(peak, current)
        elif address in live:
            current -= live.pop(address)
    return peak


def torch_cpu_peak(torch, fn):
    """Peak bytes newly allocated by PyTorch's CPU allocator while ``fn()`` runs (see module docstring)."""
    try:
        from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn()
        handle, path = tempfile.mkstemp(suffix=".json")
        os.close(handle)
        try:
            prof.export_chrome_trace(path)
            with open(path) as f:
                trace = json.load(f)
        finally:
            os.remove(path)
        events = [e for e in trace.get("traceEvents", []) if e.get("name") == "[memory]"
                  and e.get("args", {}).get("Device Type", 0) == 0]
        events.sort(key=lambda e: (e.get("ts", 0), e["args"].get("Ev Idx", 0)))
        if events:
            peak = _replay_peak((e["args"]["Addr"], e["args"]["Bytes"]) for e in events)
            return peak, "torch.profiler memory events (PyTorch CPU allocator), peak during one step"
    except Exception as exc:  # fall back below
        reason = f"{type(exc).__name__}: {exc}"
    else:
        reason = "the profiler reported no memory events"
    peak = rss_peak(fn)
    if peak is None:
        return None, f"not measured ({reason}; no /proc/self/clear_refs for an RSS high-water mark)"
    return peak, f"RSS high-water-mark delta over one step (torch.profiler unusable: {reason})"


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def rss_peak(fn):
    """Growth of the process's peak RSS over ``fn()`` (Linux: reset VmHWM via clear_refs), or None."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        start = _status_kib("VmRSS")
    except (OSError, KeyError):
        return None
    fn()
    return max(_status_kib("VmHWM") - start, 0)


def cupy_pool_peak(cupy, fn):
    """Peak bytes newly taken from CuPy's memory pool while ``fn()`` runs (a ``MemoryHook``)."""

    class _PeakHook(cupy.cuda.MemoryHook):
        name = "minigan_benchmark_peak"

        def __init__(self):
            super().__init__()
            self.events = []

        def malloc_postprocess(self, **kw):
            self.events.append((kw["mem_ptr"], kw["mem_size"]))

        def free_postprocess(self, **kw):
            self.events.append((kw["mem_ptr"], -kw["mem_size"]))

    hook = _PeakHook()
    cupy.cuda.Device().synchronize()
    with hook:
        fn()
        cupy.cuda.Device().synchronize()
    return _replay_peak(hook.events), "CuPy memory-pool mallocs/frees (MemoryHook), peak during one step"


def torch_cuda_peak(torch, fn):
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - start,
            "torch.cuda.max_memory_allocated() − memory_allocated() at the start of one step")


# ------------------------------------------------------------------------------------- output
def fmt_ms(value):
    if value is None:
        return "—"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def fmt_mb(value):
    return "—" if value is None else f"{value / 2**20:.1f}"


def fmt_ratio(value):
    return "—" if value is None else f"{value:.2f}×"


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(header, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(out)


def write_json(path, payload):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, default=str)
        f.write("\n")


def default_output_path(filename):
    """Where a result goes when no ``--out`` is given: the system's temporary directory."""
    return os.path.join(tempfile.gettempdir(), filename)


def command_line():
    """The command that is running, as ``python -m benchmarks.x --args``."""
    return " ".join(["python", "-m", _module_name()] + sys.argv[1:])


def _module_name():
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None else os.path.basename(sys.argv[0])


def add_timing_arguments(parser, batch_sizes, json_name, check_help, profile_help):
    """The options every timing benchmark takes: batch sizes, rounds, warm-up, budget, output, the
    ``--check`` against a reference, threads, the pause between steps, PyTorch on or off, profiling."""
    a = parser.add_argument
    a("--batch-sizes", default=batch_sizes, help="comma-separated (default %(default)s)")
    a("--repeats", type=int, default=30, help="timed rounds per batch size (default %(default)s)")
    a("--warmup", type=int, default=3, help="untimed steps per system first (default %(default)s)")
    a("--budget-s", type=float, default=None,
      help="lower the rounds so each batch size takes about this long (min 5 rounds)")
    a("--out", help="directory for the JSON and the Markdown table")
    a("--json", help=f"path of the JSON results (default: DIR/{json_name} or a temp file)")
    a("--check", action="store_true", help=check_help)
    a("--threads", type=int, default=None, help="CPU threads for NumPy's BLAS and for PyTorch alike (default: all cores)")
    a("--gap-ms", type=float, default=None,
      help="untimed pause before each timed step (default: 120 with >1 thread and PyTorch, else 0)")
    a("--no-torch", action="store_true", help="do not compare with PyTorch even if installed")
    a("--profile", type=int, default=0, metavar="N", help=profile_help)
    a("--profile-top", type=int, default=15, help="entries to list (default %(default)s)")


def parse_timing_arguments(parser, argv, smallest_batch=1, why="must be positive"):
    """Parse, then check the batch sizes (comma-separated, each at least ``smallest_batch``) and the rounds."""
    args = parser.parse_args(argv)
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    except ValueError:
        parser.error(f"--batch-sizes must be comma-separated integers, got {args.batch_sizes!r}")
    if not args.batch_sizes or min(args.batch_sizes) < smallest_batch:
        parser.error(f"--batch-sizes: {why}")
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be ≥ 1 and --warmup ≥ 0")
    return args


def measure_systems(systems, skipped, batch_size, args, references=("pytorch",)):
    """Time ``systems`` interleaved and measure each one's peak memory at one batch size; the result
    dict, with minigan's ratio of medians against each of ``references`` that ran."""
    items = [Timed(s.label, s.step, s.sync) for s in systems]
    times = time_interleaved(items, args.repeats, args.warmup, args.budget_s, gap_s=args.gap_s)
    result = {"batch_size": batch_size, "rounds": len(next(iter(times.values()))), "warmup": args.warmup,
              "systems": {}, "skipped": skipped, "ratios": {}}
    for system in systems:
        peak, method = system.peak_memory()
        summary = summarize(times[system.label])
        result["systems"][system.label] = {
            "name": system.name, "median_ms": summary["median"], "p25_ms": summary["p25"], "p75_ms": summary["p75"],
            "min_ms": summary["min"], "times_ms": [t * 1e3 for t in times[system.label]],
            "peak_bytes": peak, "memory_method": method,
        }
    s = result["systems"]
    for subject in ("minigan", "minigan_static"):
        for other in references:
            if subject in s and other in s:
                result["ratios"][f"{subject}/{other}"] = s[subject]["median_ms"] / s[other]["median_ms"]
    return result


def print_batch_result(result):
    """One batch size's systems as a text table, the ratios, and the systems skipped (with why)."""
    print(f"\nbatch {result['batch_size']}: median of {result['rounds']} interleaved rounds, "
          f"after {result['warmup']} warm-up steps per system")
    rows = [[e["name"], fmt_ms(e["median_ms"]), f"{fmt_ms(e['p25_ms'])}–{fmt_ms(e['p75_ms'])}", fmt_ms(e["min_ms"]),
             fmt_mb(e["peak_bytes"]), e["memory_method"]] for e in result["systems"].values()]
    print(text_table(["system", "ms/step", "p25–p75", "min", "peak MB", "peak memory measured by"], rows))
    ratios = ", ".join(f"{k} = {fmt_ratio(v)}" for k, v in result["ratios"].items())
    if ratios:
        print(f"ratios of medians: {ratios}")
    for label, reason in result["skipped"].items():
        print(f"{label}: skipped — {reason}")


def print_setup(payload, threads):
    """The machine, the date, the threads and the pause between steps, as every benchmark prints them."""
    print(f"machine: {describe_machine(payload['machine'])}")
    print(f"date: {payload['machine']['date']}")
    print(f"threads: {threads['description']}; pause before each timed step: {payload['gap_s'] * 1e3:.0f} ms")
    if threads.get("warning"):
        print(f"warning: {threads['warning']}")


def measure_batch_sizes(data, args, measure, summary_rows, torch, torch_reason):
    """``measure(data, batch_size, args, torch, torch_reason)`` at each of ``args.batch_sizes``, each
    printed as it comes, then the summary table; the results."""
    results = []
    for batch_size in args.batch_sizes:
        result = measure(data, batch_size, args, torch, torch_reason)
        print_batch_result(result)
        results.append(result)
        sys.stdout.flush()
    header, rows = summary_rows(results)
    print("\nsummary (medians; ratios > 1 mean minigan is slower):")
    print(text_table(header, rows))
    return results


def write_results(args, payload, results, stem, title, summary_rows, legend, header_lines=()):
    """The run as JSON (``--json``, else DIR/STEM.json with ``--out``, else a temporary file) and, with
    ``--out``, as DIR/STEM.md: the title, command, date, machine, any ``header_lines``, the summary
    table, ``legend`` and how each system's peak memory was measured."""
    payload["results"] = results
    json_path = args.json or (os.path.join(args.out, f"{stem}.json") if args.out
                              else default_output_path(f"minigan_{stem}.json"))
    write_json(json_path, payload)
    print(f"\nJSON: {json_path}")
    if not (args.out and results):
        return
    header, rows = summary_rows(results)
    methods = {}
    for r in results:
        for entry in r["systems"].values():
            methods.setdefault(entry["name"], entry["memory_method"])
    machine = f"Machine: {describe_machine(payload['machine'])}" + ("  " if header_lines else "")
    lines = [f"# {title}", "", f"Command: `{payload['command']}`  ", f"Date: {payload['machine']['date']}  ",
             machine, *header_lines, "", markdown_table(header, rows), "", legend, ""]
    lines += [f"- {name}: {method}" for name, method in methods.items()]
    skipped = {k: v for r in results for k, v in r["skipped"].items()}
    lines += [f"- {k}: skipped — {v}" for k, v in skipped.items()]
    md_path = os.path.join(args.out, f"{stem}.md")
    with open(md_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"Markdown: {md_path}")


def start_comparison(args):
    """The shared start of ``benchmarks.ops`` and ``benchmarks.scaling``: load PyTorch (unless
    ``--no-torch``), set the thread count, choose the pause between runs, and print the machine.

    Returns (torch or None, why torch was skipped or None, threads dict, gap in seconds, machine dict).
    """
    torch, reason = (None, "--no-torch was given") if args.no_torch else load_torch()
    if torch is None:
        print(f"PyTorch comparison skipped: {reason}")
    threads = configure_threads(args.threads, torch)
    gap_s = default_gap_s(args.gap_ms, threads["threads"], mixed=torch is not None)
    machine = machine_info(torch)
    print(f"machine: {describe_machine(machine)}\ndate: {machine['date']}\nthreads: {threads['description']}")
    if threads.get("warning"):
        print(f"warning: {threads['warning']}")
    return torch, reason, threads, gap_s, machine


def profile_steps(system, steps, warmup=1):
    """A ``cProfile.Profile`` of ``steps`` calls of ``system.step()``, after ``warmup`` unprofiled ones
    (and a device synchronisation before the profile stops)."""
    import cProfile

    for _ in range(warmup):
        system.step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        system.step()
    system.sync()
    profiler.disable()
    return profiler
