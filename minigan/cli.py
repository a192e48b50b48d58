"""The ``minigan`` command line. ``minigan --help`` lists the commands."""

import argparse
import sys


def _gradcheck(args):
    from minigan.builtin_checks import run_op_checks

    failures = 0
    print(f"{'case':<32} {'inputs':>6}  {'max abs err':>11}  {'max rel err':>11}  result")
    for name, report in run_op_checks(seed=args.seed):
        abs_err = max(c.max_abs_error for c in report.inputs)
        rel_err = max(c.max_rel_error for c in report.inputs)
        print(f"{name:<32} {len(report.inputs):>6}  {abs_err:>11.3e}  {rel_err:>11.3e}  "
              f"{'pass' if report.passed else 'FAIL'}")
        if args.verbose or not report.passed:
            print("    " + str(report).replace("\n", "\n    "))
        failures += not report.passed
    print(f"\n{failures} of the checks failed." if failures else "\nAll gradient checks passed (float64).")
    return 1 if failures else 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="minigan", description="minigan: a small autodiff engine over NumPy/CuPy, and GANs on it.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser(
        "gradcheck", help="check every built-in op's backward against finite differences (float64)",
        description="Run minigan.gradcheck over each built-in op and print a report table.")
    check.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    check.add_argument("--verbose", action="store_true", help="print each case's full report")
    check.set_defaults(run=_gradcheck)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
