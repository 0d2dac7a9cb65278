"""`keras-cls`: every job as a subcommand (train, prepare, evaluate, export, predict, compress, tune, compare, demo)
with the flags of the repository's scripts, and the variant listings (list, info, table).

`keras-cls <job> --help` lists a job's flags; `keras-cls <job> --config run.json` takes a JSON file of base values.
"""
import argparse
import json
import sys

from keras_cls import commands


def _parser():
    from keras_cls.models.registry import FAMILIES

    parser = argparse.ArgumentParser(prog="keras-cls", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for job, what in commands.JOBS.items():  # parsed by the job itself (absl flags); listed here for --help
        sub.add_parser(job, help=what, add_help=False)
    sub.add_parser("list", help="variant names").add_argument("--family", choices=sorted(FAMILIES))
    sub.add_parser("table", help="Markdown table of all variants").add_argument("--family", choices=sorted(FAMILIES))
    sub.add_parser("info", help="one variant as JSON").add_argument("name")
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in commands.JOBS:
        return commands.run(argv[0], argv[1:])
    args = _parser().parse_args(argv)
    from keras_cls.models import list_models, model_info
    from keras_cls.models.info import variant_table

    try:
        if args.command == "list":
            print("\n".join(list_models(args.family)))
        elif args.command == "table":
            print(variant_table(args.family))
        else:
            print(json.dumps(model_info(args.name), indent=1))
    except ValueError as e:
        _parser().exit(2, f"keras-cls: error: {e}\n")


if __name__ == "__main__":
    main()
