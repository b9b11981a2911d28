"""Every aggregate anyone sees, read from rollups, with small groups suppressed.

Pages call the report functions below and render what they return; they never see a rollup
row, a raw answer or an ORM object. Each takes

- `departments`: the departments the viewer may see (None for everything). The caller passes
  the signed-in manager's set; it is always intersected with any filter, never widened
  (`scope.Filters`).
- optional filters: `selected_departments`, `divisions` and `staff_groups` (sets of ids).

None takes a minimum group size: it comes from the settings only. Confidentiality is enforced
in one place, `release`: every figure, count and comment adds up whole atoms of at least
`ATTUNE_MIN_GROUP_SIZE` responses (comments: `ATTUNE_MIN_COMMENT_GROUP_SIZE`) that lie inside
what was asked for, so no combination of filters can isolate a small group. A figure with
nothing to add up comes back with `value=None` and `suppressed=True`.
"""

from surveys.reporting.comments import Comments, comments, theme_trends
from surveys.reporting.export import to_csv
from surveys.reporting.figures import Figure
from surveys.reporting.heatmap import Heatmap, HeatmapCell, heatmap
from surveys.reporting.items import item_distributions
from surveys.reporting.overview import DepartmentFigure, DimensionFigure, Overview, overview
from surveys.reporting.plan_progress import PlanProgress, plan_progress
from surveys.reporting.rates import CycleSummary, ResponseRates, cycle_summaries, response_rates
from surveys.reporting.reference import UnknownCycle, UnknownDimension
from surveys.reporting.relationships import (
    Asymmetry,
    RelationshipCell,
    Relationships,
    relationship_trends,
    relationships,
)
from surveys.reporting.scope import (
    ALL_SELECTED,
    FilterOptions,
    cycle_label,
    filter_options,
    nothing_to_show,
    open_cycle_notice,
)
from surveys.reporting.source import ReportSource, RollupSource, data_version
from surveys.reporting.trends import trends

__all__ = [
    "ALL_SELECTED",
    "Asymmetry",
    "Comments",
    "CycleSummary",
    "DepartmentFigure",
    "DimensionFigure",
    "Figure",
    "FilterOptions",
    "Heatmap",
    "HeatmapCell",
    "Overview",
    "PlanProgress",
    "RelationshipCell",
    "Relationships",
    "ReportSource",
    "ResponseRates",
    "RollupSource",
    "UnknownCycle",
    "UnknownDimension",
    "comments",
    "cycle_label",
    "cycle_summaries",
    "data_version",
    "filter_options",
    "nothing_to_show",
    "open_cycle_notice",
    "heatmap",
    "item_distributions",
    "overview",
    "plan_progress",
    "relationship_trends",
    "relationships",
    "response_rates",
    "to_csv",
    "theme_trends",
    "trends",
]
