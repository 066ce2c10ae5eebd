"""The `helpbot` console script: parse, read settings, run, and turn every failure into an exit
code and one line on stderr."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import sys

from bots.cli.output import fail
from bots.cli.parser import build_parser
from bots.ops.logs import configure_logging
from core import BadInputError, ConfigError, HelpbotError, load_settings

__all__ = ["EXIT_BAD_INPUT", "EXIT_BROKEN_PIPE", "EXIT_FAILED", "EXIT_OK", "main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for `... | head`


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `helpbot` console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else args.log_level
    configure_logging(level)
    try:
        settings = load_settings()
        configure_logging(level, settings.log_format)
        result = args.handler(settings, args)
        if inspect.isawaitable(result):
            return int(asyncio.run(_awaited(result)))
        return int(result)
    except (BadInputError, ConfigError) as exc:
        fail(str(exc))
        return EXIT_BAD_INPUT
    except HelpbotError as exc:
        fail(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`helpbot ask ... | head`): no error to report. stdout
        # goes to devnull so Python's final flush does not fail again (Python's own recipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # the last resort: one line, the traceback only with -v
        logging.getLogger("helpbot").debug("unexpected error", exc_info=True)
        fail(f"unexpected {type(exc).__name__}: {exc} (run with -v for details)")
        return EXIT_FAILED


async def _awaited(result: object) -> int:
    return int(await result)  # type: ignore[misc]
