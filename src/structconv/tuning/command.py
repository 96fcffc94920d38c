"""`structconv calibrate [--backend NAME | --all-backends] [--threads N] [--quick] [--seconds S]`."""

import os
import subprocess
import sys

BACKENDS = ("tensorflow", "jax", "torch")


def add_arguments(parser):
    parser.add_argument("--all-backends", action="store_true",
                        help="calibrate TensorFlow, JAX and PyTorch, one process each")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="cap the framework at N threads (default: its own default, all cores); the "
                        "profile is stored for that thread count")
    parser.add_argument("--seconds", type=float, default=150.0, metavar="S",
                        help="time budget for the measurements per backend (default 150; the fit adds "
                        "a few seconds)")
    parser.add_argument("--quick", action="store_true", help="a few shapes only (a smoke test)")


def run(args):
    if args.all_backends:
        status = 0
        for backend in BACKENDS:
            print(f"=== {backend} ===", flush=True)
            command = [sys.executable, "-m", "structconv", "calibrate", "--backend", backend,
                       "--threads", str(args.threads), "--seconds", str(args.seconds)]
            status |= subprocess.call(command + (["--quick"] if args.quick else []), env=dict(os.environ))
        return status
    from structconv.tuning.threads import limit_threads

    limit_threads(args.threads)
    import keras

    from structconv.tuning.calibrate import calibrate

    print(f"Calibrating the {keras.backend.backend()} cost model on this machine "
          f"(about {args.seconds:.0f} s)...", flush=True)
    try:
        result = calibrate(seconds=args.seconds, quick=args.quick)
    except ValueError as error:
        print(f"structconv calibrate: {error}", file=sys.stderr)
        return 2
    p = result["provenance"]
    errors = p["fit_error"]
    threads = f"{p['threads']} thread{'' if p['threads'] == 1 else 's'}"
    print(f"Fitted on {p['points']} shapes in {p['seconds']} s ({p['machine']}, {threads}).")
    print(f"Fit error (relative, median / max): direct {errors['direct_median']:.0%} / "
          f"{errors['direct_max']:.0%}, FFT {errors['fft_median']:.0%} / {errors['fft_max']:.0%}.")
    print(f"The model alone picks a plan within 1.15x of the fastest at {p['grid_decisions_within_1.15']} "
          f"shapes (the shipped profile: {p['shipped_grid_decisions_within_1.15']}).")
    costs = result["profile"].costs
    half = (f", at half its rate with {costs.direct_channel_half:g} (input x output) channel pairs"
            if costs.direct_channel_half else "")
    half += (f", slower by 1 + {costs.direct_output_half:g} / (output channels per group)"
             if costs.direct_output_half else "")
    print(f"Direct convolution priced at >= {costs.direct_min_channels} channels per group{half}; a gradient "
          f"multiplies direct by {', '.join(f'{f:g}' for f in costs.direct_training)} and FFT by "
          f"{', '.join(f'{f:g}' for f in costs.fft_training)} (ranks 1-4; {p['training_points']} shapes "
          "timed with gradients).")
    for rank, seen in sorted(p["backward_cliff"].items()):
        print(f"Direct gradient, {rank}: {seen}.")
    strategy = result["profile"].strategy
    limit = strategy.decompose_filters_max_taps
    limited = f", up to {limit} peeled taps" if strategy.decompose_stacking == "filters" and limit else ""
    fewer = [mode + ranks for mode, flags in (("forward", strategy.decompose_fewer_channels_inference),
                                              ("with a gradient", strategy.decompose_fewer_channels))
             if (ranks := _ranks(flags)) is not None]
    differ = f"; where the channels differ, the side with fewer ({' and '.join(fewer)})" if fewer else ""
    inputs = "".join(_inputs_from(strategy, mode, training)
                     for mode, training in (("forward", False), ("with a gradient", True)))
    print(f"Above the backend's ranks the decomposition stacks its peeled taps along the "
          f"{strategy.decompose_stacking_inference} (forward) and the {strategy.decompose_stacking} (with a "
          f"gradient{limited}){differ}{inputs}.")
    print(f"A decomposition takes {costs.direct_decompose_us:g} us a call besides its convolution (its "
          "slices, stacking and sums).")
    if costs.native_nd_gflops:
        print(f"XLA's own N-D convolution above rank 3 runs at {costs.native_nd_gflops:g} Gflop/s.")
    print(f"FFT passes leave the cache above {costs.fft_cache_bytes // 1024} KiB per axis; overlap-save "
          f"blocks are priced at {costs.block_margin:g}x their model.")
    print(f"FFT lengths along the real transform's axis: {p['fft_lengths']}.")
    print(f"Odd input channel counts: {p['odd_channels']}.")
    print(f"Convolutions without padding: {p['unpadded']}.")
    if costs.dft_stage_us:
        print(f"The kernel's spectrum by DFT takes {costs.dft_stage_us:g} us per axis besides its flops.")
    if costs.packed_factor != 1.0:
        print(f"FFT plans packing two batch items into one complex transform are priced at "
              f"{costs.packed_factor:g}x their model.")
    if p["at_bound"]:
        print("Constants on a bound of the fit: " + ", ".join(p["at_bound"]) + ".")
    print(f"'auto' now measures the plans this model cannot tell apart within "
          f"{result['profile'].uncertainty}x.")
    print(f"Profile: {result['path'] or '(could not be written: see the warning)'}")
    return 0


def _inputs_from(strategy, mode, training):
    """The report's clause on the count of filters from which the decomposition stacks along the inputs
    in `mode` (e.g. `; forward, along the inputs from 16 filters at rank 4 and above`; empty: none)."""
    of_rank = {rank: strategy.inputs_min_filters(rank, training) for rank in (3, 4)}
    counts = sorted(set(of_rank.values()) - {0})
    return f"; {mode}, along the inputs from " + " and ".join(
        f"{count} filters{_ranks(tuple(of_rank[rank] == count for rank in (3, 4)))}"
        for count in counts) if counts else ""


def _ranks(flags):
    """Where a strategy's flag (or tuple per rank from 3) holds: "" for every rank, " at rank 4 and above"
    for some, None for none."""
    from structconv.tuning.profile import FEWER_CHANNELS_FIRST_RANK

    if not isinstance(flags, tuple):
        return "" if flags else None
    last = len(flags) - 1
    held = [f"rank {FEWER_CHANNELS_FIRST_RANK + i}{' and above' if i == last else ''}"
            for i, flag in enumerate(flags) if flag]
    return f" at {', '.join(held)}" if held else None
