"""The plain Python model of every report lives in product code (``bazaar_core.loadgen.report_model``,
since `bazaar chaos` checks reports with it too); the tests import it from here as before."""

from bazaar_core.loadgen.report_model import (
    DAY_US,
    Catalog,
    Model,
    Row,
    from_us,
    half_up,
    ledger_rows,
    milli,
    money_p,
    money_x,
    paisa,
    q,
    us,
)

__all__ = ["DAY_US", "Catalog", "Model", "Row", "from_us", "half_up", "ledger_rows", "milli", "money_p", "money_x", "paisa", "q", "us"]
