"""Registry of benchmarked methods: backbone × loss × conditioning, named in config and wildcards."""

from __future__ import annotations

from dataclasses import dataclass

from lcsbench.errors import InputError


@dataclass(frozen=True)
class Method:
    """One benchmarked method.

    ``conditioning`` is ``"atlas"`` (LCS: one sigmoid output chosen by a two-channel atlas at the
    bottleneck), ``"none"`` (one sigmoid output per class) or ``"copy"`` (no network: the split's
    atlas label map is the prediction). ``dice`` is ``"per_class"`` (soft Dice per channel,
    averaged) or ``"pooled"`` (one soft Dice over all channels, as the original LCS code).
    """

    name: str
    conditioning: str
    backbone: str = "paper"
    dice: str = "per_class"
    description: str = ""

    @property
    def trainable(self) -> bool:
        return self.conditioning != "copy"


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "atlas-copy", "copy", backbone="", description="the split's atlas label map as prediction (no learning)"
        ),
        Method("baseline", "none", description="3D U-Net, one sigmoid channel per class, per-class soft Dice"),
        Method(
            "baseline-pooled",
            "none",
            dice="pooled",
            description="baseline with the original code's single soft Dice pooled over all channels",
        ),
        Method("lcs", "atlas", description="label conditioned 3D U-Net (LCS paper §2)"),
        Method("lcs-original", "atlas", backbone="original", description="LCS with the released code's U-Net"),
    )
}


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise InputError(f"unknown method {name!r}; known: {', '.join(METHODS)} (see lcsbench.methods)") from None
