"""Regenerate the variant table in README.md from model_info (between the table markers); --check only says whether
the table there is current (exit status 1 when it is stale)."""
import re
import sys
from pathlib import Path

from absl import app, flags

from keras_cls.models.info import variant_table

BEGIN, END = "<!-- variants:begin -->", "<!-- variants:end -->"
flags.DEFINE_string("readme", str(Path(__file__).resolve().parents[1] / "README.md"), "the README to update")
flags.DEFINE_boolean("check", False, "change nothing: exit 1 when the table in --readme is stale")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    path = Path(FLAGS.readme)
    try:
        text = path.read_text()
    except OSError as e:
        sys.exit(f"readme_table.py: error: cannot read --readme: {e}")
    if BEGIN not in text or END not in text:
        sys.exit(f"readme_table.py: error: {path} has no {BEGIN} ... {END} markers")
    table = f"{BEGIN}\n{variant_table()}\n{END}"
    updated = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda m: table, text, flags=re.S)
    if FLAGS.check:
        if updated != text:
            sys.exit(f"{path}: the variant table is stale: run `python scripts/readme_table.py`")
        print(f"{path}: the variant table is current")
        return
    if updated != text:
        from keras_cls import files

        files.write_text(str(path), updated)
    print(f"updated {path}" if updated != text else f"{path}: already current")


if __name__ == "__main__":
    app.run(main)
