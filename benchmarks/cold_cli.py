"""One cold ``monai.bundle run`` with its stages timed, for :mod:`benchmarks.time_to_decision`:
``python benchmarks/cold_cli.py <result.json> <config_file> [--key value ...]``.

It does what ``python -m monai.bundle run --config_file <config_file> --key value ...`` does (``create_workflow``,
``run``, ``finalize``; the values parsed by ``fire`` as the command line parses them) and writes into
``<result.json>``: when the interpreter started running this file (``started``, ``time.time()``), the seconds of
``import monai`` (MONAI's own start-up), of every other import wherever it happened (``imports``: each import is a
stage that pauses the one it happens in), of the config parse and model build (``create_workflow``: parse, then
the config's ``initialize`` with the checkpoint load; and the parsing of the ``run`` items, between the inference
stages), of the package's inference stages
(:mod:`monai_tumorcls.utils.stages`), and the peak RSS. Nothing but the standard library is imported before
``import monai`` is timed.
"""

import time

STARTED = time.time()

import builtins  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402


def cli_overrides(cli_args: list[str]) -> dict:
    """``--key value`` pairs as a dict, each value parsed as ``monai.bundle run``'s command line (fire) parses it."""
    from fire.parser import DefaultParseValue

    return {k.lstrip("-"): DefaultParseValue(v) for k, v in zip(cli_args[::2], cli_args[1::2])}


def _timed_imports(stage) -> None:
    """Count every import from here on as the stage ``imports`` (it pauses the stage it happens in)."""
    plain_import, plain_import_module = builtins.__import__, importlib.import_module

    def timed_import(*args, **kwargs):
        with stage("imports"):
            return plain_import(*args, **kwargs)

    def timed_import_module(*args, **kwargs):
        with stage("imports"):
            return plain_import_module(*args, **kwargs)

    builtins.__import__, importlib.import_module = timed_import, timed_import_module


def main(result_file: str, config_file: str, cli_args: list[str]) -> None:
    t0 = time.perf_counter()
    import monai  # noqa: F401

    import_monai = time.perf_counter() - t0
    from monai_tumorcls.utils.stages import stage, stage_times

    with stage_times() as seconds:
        with stage("imports"):
            from fire.parser import DefaultParseValue
            from monai.bundle.scripts import create_workflow
        _timed_imports(stage)
        overrides = cli_overrides(cli_args)
        # the config parse and model build go on inside ``run`` (the ``run`` items are parsed, their components
        # built) around the inference stages, which pause it
        with stage("config + model"):
            workflow = create_workflow(config_file=DefaultParseValue(config_file), **overrides)
            workflow.run()
            workflow.finalize()
    seconds["import monai"] = import_monai
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    record = {"started": STARTED, "ended": time.time(), "seconds": seconds, "peak_rss_mb": peak_kb / 1024}
    with open(result_file, "w") as f:
        json.dump(record, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
