"""`radgen` command line. Subcommands are registered in SUBCOMMANDS so that more can be added beside `predict`.

radgen predict IMAGE [IMAGE ...] --checkpoint DIR [--json] [--batch-size N] [--reports-from DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from radgen.inference import Predictor


class CliError(Exception):
    """A user-facing error: printed as one message, exit status 2, no traceback."""


# --------------------------------------------------------------------------- predict
def add_predict_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "predict",
        help="classify chest X-ray images and print the generated report",
        description="Per image: the probabilities of normal / pneumonia / tb, the predicted class "
        "and the report the model generated (and read).",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files, grayscale or RGB, any size")
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="DIR",
        help="a trained model directory (e.g. results/models/radgen/fold0)",
    )
    p.add_argument(
        "--reports-from",
        metavar="DIR",
        default=None,
        help="for models without their own report generator (report_only, early/late fusion): the "
        "model directory whose generator writes the reports they read",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    p.add_argument(
        "--batch-size", type=int, default=16, metavar="N", help="images per forward pass (default 16)"
    )
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.set_defaults(func=run_predict)
    return p


def _predictor(args: argparse.Namespace) -> Predictor:
    """The model (and report source) of the command line, or a CliError saying why not."""
    from radgen.inference import DeviceUnavailableError, load_predictor, resolve_device
    from radgen.models import CheckpointError

    try:
        device = resolve_device(args.device, option="--device")
        return load_predictor(args.checkpoint, device, args.reports_from)
    except (DeviceUnavailableError, CheckpointError, ValueError) as err:
        raise CliError(str(err)) from None


def _print_results(results: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        probs_txt = "  ".join(f"p_{c}={v:.3f}" for c, v in r["probabilities"].items())
        print(f"{r['image']}\n  predicted: {r['predicted']}\n  {probs_txt}\n  report: {r['report'] or '-'}")


def run_predict(args: argparse.Namespace) -> int:
    from radgen.inference import BadImagesError

    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    predictor = _predictor(args)
    try:
        probs, texts = predictor.predict_files(args.images, args.batch_size)
    except BadImagesError as err:
        raise CliError(f"cannot predict; {err}") from None
    classes = predictor.model.classes
    results = [
        {
            "image": image,
            "predicted": classes[int(p.argmax())],
            "probabilities": {c: round(float(v), 6) for c, v in zip(classes, p, strict=True)},
            "report": text,
        }
        for image, p, text in zip(args.images, probs, texts, strict=True)
    ]
    _print_results(results, args.json)
    return 0


# --------------------------------------------------------------------------- entry point
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], argparse.ArgumentParser]] = [add_predict_parser]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="radgen", description="RadGen: chest X-ray → report → class.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point `radgen`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as err:
        print(f"radgen {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
