"""Regenerate the variant table in README.md from model_info (between the table markers)."""
import re
from pathlib import Path

from absl import app

from keras_cls.models.info import variant_table

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- variants:begin -->", "<!-- variants:end -->"


def main(argv):
    del argv
    text = README.read_text()
    table = f"{BEGIN}\n{variant_table()}\n{END}"
    README.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda m: table, text, flags=re.S))
    print(f"updated {README}")


if __name__ == "__main__":
    app.run(main)
