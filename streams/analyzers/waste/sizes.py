"""How large an EC2 instance type is, from its name, in AWS's normalization units.

AWS prices reservations by a size's normalization factor (nano 0.25, micro 0.5, small 1,
medium 2, large 4, xlarge 8, and 8 per xlarge above: 2xlarge 16, 24xlarge 192). The
family does not matter to "is this large"; ``metal`` is taken as the largest size.
"""

from __future__ import annotations

import re

FACTORS = {"nano": 0.25, "micro": 0.5, "small": 1.0, "medium": 2.0, "large": 4.0, "xlarge": 8.0}
METAL = 192.0  # as large as the largest sizes (metal is a whole host)
_XLARGE = re.compile(r"^(\d+)xlarge$")


def size_factor(size: str) -> float | None:
    """``2xlarge`` -> 16.0; None for a size this does not know."""
    if size in FACTORS:
        return FACTORS[size]
    if size == "metal" or size.startswith("metal-"):
        return METAL
    match = _XLARGE.match(size)
    return 8.0 * int(match.group(1)) if match else None


def instance_factor(instance_type: str | None) -> float | None:
    """``m5.2xlarge`` (or ``db.r5.2xlarge``) -> 16.0; None if it cannot be read."""
    if not instance_type or "." not in instance_type:
        return None
    return size_factor(instance_type.rsplit(".", 1)[1])
