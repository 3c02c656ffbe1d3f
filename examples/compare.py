"""Dense, binarized, pruned and low-rank LeNet-300-100 on MNIST: one budget, measured in the deployed form.

    python examples/compare.py --epochs 3 --data ../shared/data/mnist --out runs/compare
    python examples/compare.py --epochs 1 --max-steps 20              # a smoke run on the bundled subset

Writes OUT/compare.json, OUT/compare.md (the table), OUT/compare.png (accuracy against deployed bytes)
and each deployed model (OUT/<method>.npz; `tinycompress eval --packed` / `report --packed` read them).
See tinycompress/compare.py for what each method does.
"""
import argparse
import sys

from tinycompress.cli import cmd_compare, compare_arguments


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    compare_arguments(parser)
    return cmd_compare(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
