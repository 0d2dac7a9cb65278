"""`keras-cls` console entry point: list the variants, show one, print the variant table."""
import argparse
import json


def variant_table(family=None):
    """Markdown table of every variant (params, GMACs, resolution) computed from `model_info`."""
    from keras_cls.models import list_models, model_info

    rows = ["| model | family | resolution | params | trainable | without top | GMACs | dropout | ImageNet top-1 (published) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in list_models(family):
        i = model_info(name)
        top1 = "" if i["imagenet_top1_published"] is None else f"{i['imagenet_top1_published']:.1f}"
        rows.append(f"| {name} | {i['family']} | {i['resolution']} | {i['params']:,} | {i['trainable_params']:,} "
                    f"| {i['params_without_top']:,} | {i['gmacs']:.3f} | {i['dropout']} | {top1} |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="keras-cls", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="variant names").add_argument("--family", choices=["efficientnet", "resnet"])
    sub.add_parser("table", help="Markdown table of all variants").add_argument(
        "--family", choices=["efficientnet", "resnet"])
    sub.add_parser("info", help="one variant as JSON").add_argument("name")
    args = parser.parse_args(argv)
    from keras_cls.models import list_models, model_info

    try:
        if args.command == "list":
            print("\n".join(list_models(args.family)))
        elif args.command == "table":
            print(variant_table(args.family))
        else:
            print(json.dumps(model_info(args.name), indent=1))
    except ValueError as e:
        parser.exit(2, f"keras-cls: error: {e}\n")


if __name__ == "__main__":
    main()
