"""Papers as packages: each holds its experiments, figures, printed numbers and summary section.

A paper ``p`` is the package ``lcsbench.papers.<p>`` with a ``cli`` module (``register(sub)``
adds its subcommands), the rule file ``rules/papers/<p>.smk`` and the config section
``papers.<p>``. Add a paper by adding its name here.
"""

from __future__ import annotations

PAPERS: tuple[str, ...] = ("lcs", "mckinley")
