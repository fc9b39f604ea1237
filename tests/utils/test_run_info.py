"""Run records: initialisation text, environment, pasteable command lines."""

from __future__ import annotations

import shlex

from monai_tumorcls.utils import describe_init, environment_info, shell_join


def test_shell_join_quotes_bundle_config_lists_readably_and_round_trips():
    args = ["python", "-m", "monai.bundle", "run", "--config_file", "['a/train.json','a/evaluate.json']",
            "--holdout_groups", "['TCGA-02-0003']", "--note", "it's $HOME", "--epochs", "2"]
    line = shell_join(args)
    assert "--config_file \"['a/train.json','a/evaluate.json']\"" in line
    assert "--holdout_groups \"['TCGA-02-0003']\"" in line
    assert shlex.split(line) == args


def test_describe_init_and_environment():
    assert describe_init(None).startswith("random initialisation")
    assert describe_init("null").startswith("random initialisation")
    env = environment_info()
    assert {"torch", "monai"} <= set(env)
