"""*Label conditioned segmentation* (Ma, Lee, Sabuncu, MIDL 2022): its experiments as a package.

- ``numbers``: the values the paper prints; ``analysis``: statistics and tables (§3.1 class
  count, §3.2 all classes and memory, §3.3 novel labels); ``figures``; ``novel``: the novel-label
  stage; ``memory``: the memory experiment; ``summary``: its section of ``results/summary.md``;
  ``cli``: its subcommands. Its rules are ``rules/papers/lcs.smk``, its config
  ``papers.lcs`` in the schema.
"""
