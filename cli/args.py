"""What every command shares: the parser's class and argument types, a hyperparameter's flag, the program's name."""

import argparse
import math
import sys
from pathlib import Path
from typing import Any, NoReturn, cast

from mlp.hyperparams import Param, requirement

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default.npz"


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line, not usage plus a line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite number (rejects nan and inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup, param: Param, default: Any) -> None:
    """The command-line flag of one hyperparameter (a mlp.hyperparams.Param): type, choices and help from the table.

    default: the flag's default, of the hyperparameter's own type (None: not given).
    """
    flag = param.cli
    assert flag is not None, f"{param.name} has no command-line flag"
    kwargs: dict[str, Any] = {"dest": param.name, "default": default}
    about = param.help
    if param.kind == "choice":
        kwargs["choices"] = param.choices
    elif param.kind == "sizes":
        about = f"{param.label}, e.g. {param.cli} 512 256."
        kwargs.update(type=positive_int, nargs="+", default=list(default), metavar=param.metavar or "N")
    elif param.kind == "bool":
        kwargs = {"dest": param.name, "action": "store_true"}
    else:
        # Ints that may be None are checked by the config, whose message says so.
        positive = param.kind == "int" and param.low == 1 and not param.optional
        kwargs.update(type=positive_int if positive else int if param.kind == "int" else finite_float,
                      metavar=param.metavar or flag.lstrip("-").upper().replace("-", "_"))
        about += f" Valid: {requirement(param)}."
    if param.kind != "bool" and param.default is not None:
        shown = " ".join(map(str, cast(tuple[int, ...], param.default))) if param.kind == "sizes" else param.default
        about += f" Default: {shown}."
    parser.add_argument(flag, *param.cli_aliases, help=about.replace("%", "%%"), **kwargs)


def program_name() -> str:
    """How the user called us, for messages: "digit-lab" (the installed command) or "python -m mlp"."""
    return "digit-lab" if Path(sys.argv[0]).name == "digit-lab" else "python -m mlp"

