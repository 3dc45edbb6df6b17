"""McKinley et al., *Few-shot brain segmentation from weakly labeled data with deep heteroscedastic
multi-task networks*: its experiment as a package.

- ``experiment``: the trained runs, their schedules (in restarts) and the models of Table 1;
  ``numbers``: the values the paper prints; ``analysis``: Table 1 against the weak and the true
  labels with Wilcoxon signed-rank tests (Holm); ``figures``: Fig. 3 (validation curves), Fig. 4
  (flip-probability map) and the weak-label QC; ``summary``: its section of ``results/summary.md``;
  ``cli``: its subcommands. Its rules are ``rules/papers/mckinley.smk``, its config
  ``papers.mckinley`` (and the top-level ``weak_labels``) in the schema.
"""
