"""A candidate scoring file from fitted weights: the active rules with one model's weights replaced.

`pls fit` proposes; RevOps decides. So the proposal is a complete scoring file (usable as-is with `pls backtest
--config` or PLS_SCORING_CONFIG) whose header says where the weights came from and how they validated, and which
never overwrites the file the pipeline runs on.
"""

from __future__ import annotations

from datetime import date

import yaml

from pls_pipelines.lib.fitting import FitResult


def candidate_yaml(active_text: str, model: str, fit: FitResult, source: str, today: date) -> str:
    """The active scoring file's YAML with `model`'s positive weights set to the fitted ones.

    Components the fit dropped (no positive effect in this history) are removed, since a weight must be above 0;
    the model's segment overrides are removed too when that happens, because their weights no longer add up.
    Comments of the active file are not carried over (YAML comments do not survive a parse).
    """
    data = yaml.safe_load(active_text)
    spec = data["models"][model]
    for name, weight in fit.weights.items():
        spec["components"][name]["weight"] = weight
    for name in fit.dropped:
        spec["components"].pop(name, None)
    removed_segments = bool(fit.dropped and spec.pop("segments", None))
    header = [
        f"Candidate scoring weights for model '{model}', proposed by `pls fit` on {today.isoformat()}.",
        f"Learned from {fit.accounts:,} accounts ({fit.won:,} closed-won): {source}.",
        f"Cross-validated ROC AUC ({fit.folds} folds): fitted {fit.cv_auc_mean:.3f} ± {fit.cv_auc_std:.3f}, "
        f"current weights {fit.baseline_cv_auc_mean:.3f}.",
        "Weights: " + ", ".join(f"{name} {weight:.2f}" for name, weight in fit.weights.items()) + ".",
    ]
    if fit.dropped:
        header.append("Dropped (no positive effect in this history): " + ", ".join(fit.dropped) + ".")
    if removed_segments:
        header.append(f"The segment overrides of '{model}' were removed: their weights were set for the old "
                      "components. Add them back after review.")
    if fit.cv_auc_mean <= fit.baseline_cv_auc_mean:
        header.append("The fitted weights do NOT beat the current ones out of sample: keep the current rules.")
    header += [
        "Nothing changes until you choose to: review, run `pls backtest --config <this file>`, then point",
        "PLS_SCORING_CONFIG at this file or copy the weights into your scoring file.",
        "Comments of the original file are not carried over.",
    ]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    return "".join(f"# {line}\n" for line in header) + body
