"""The attacker suite: hostile checkpoints, folder entries, uploads and outputs (issue: a checkpoint must never run
code, and a broken model must never answer "no tumour")."""
