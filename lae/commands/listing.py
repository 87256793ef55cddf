"""``lae list`` (datasets, models, metrics, presets) and ``lae config`` (a preset's resolved
config)."""

from __future__ import annotations

import argparse
import re
import shutil
import textwrap

from lae.argtypes import nonempty_text
from lae.commands.base import Command


def first_sentence(text: str) -> str:
    """The first sentence of a docstring or comment block, on one line, without reST markup.

    >>> first_sentence("A ``VAE`` (see :class:`lae.models.VAE`). More.")
    'A VAE (see lae.models.VAE).'
    """
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    paragraph = re.sub(r":\w+:`~?([^`]+)`", r"\1", paragraph).replace("``", "")
    # a full stop ends the sentence, except after an abbreviation ("et al.", "e.g.")
    end = re.search(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)(?<!\bcf)(?<!\bvs)[.!?](\s|$)",
                    paragraph)
    return paragraph[:end.end()].strip() if end else paragraph


def first_clause(text: str) -> str:
    """The first sentence up to its first colon or semicolon (a preset's one-line summary).

    >>> first_clause("LAE on mnist5k: the setting of vae-mnist5k-mlp; T = 2.")
    'LAE on mnist5k'
    """
    return re.split(r"[:;] ", first_sentence(text), maxsplit=1)[0].rstrip(".")


def _print_table(title: str, rows: list[tuple[str, str]]) -> None:
    """``title:`` then one name per row with its description wrapped under it."""
    width = max(60, shutil.get_terminal_size((100, 20)).columns)
    column = max(len(name) for name, _ in rows) + 1
    print(f"{title}:")
    for name, desc in rows:
        lines = textwrap.wrap(desc, max(30, width - column - 3)) or [""]
        print(f"  {name:<{column}} {lines[0]}")
        for line in lines[1:]:
            print(f"  {'':<{column}} {line}")


def run_list(args: argparse.Namespace) -> int:
    from lae.data import list_datasets
    from lae.eval.metrics import METRICS
    from lae.models import MODELS
    from lae.train import list_presets
    from lae.train.config import preset_description

    _print_table("datasets", list_datasets())
    _print_table("models", [(name, first_sentence(cls.__doc__ or ""))
                            for name, cls in sorted(MODELS.items())])
    _print_table("metrics", [(name, desc) for name, (_, desc) in sorted(METRICS.items())])
    _print_table("presets (lae config PRESET prints every key)",
                 [(name, first_clause(preset_description(name))) for name in list_presets()])
    return 0


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=nonempty_text,
                   help="preset name (see lae list) or path to a YAML file")


def run_config(args: argparse.Namespace) -> int:
    import yaml

    from lae.train import load_config
    from lae.train.config import refuse_repeated_overrides
    from lae.train.setup import check_config

    refuse_repeated_overrides(list(args.overrides))
    cfg = load_config(args.config, list(args.overrides))
    check_config(cfg)  # what lae train would refuse before its work is not printed as valid
    print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
    return 0


LIST = Command("list", "datasets, models, metrics and presets", lambda p: None, run_list)
CONFIG = Command(
    "config", "print a preset's resolved config: every key, with the model's own and their "
              "defaults", add_config_arguments, run_config,
    description="Print the config a preset or YAML file resolves to, with any "
                "--section.key=value overrides applied.", overrides=True)
