"""Who answers for each stage of the graph, shown as the owners of its assets in the Dagster UI.

One mapping, by asset group, so a reorganisation is one edit (the asset-graph snapshot test shows it)."""

DATA_ENGINEERING = "team:data-engineering"
ANALYTICS = "team:analytics"
OPERATIONS = "team:operations"  # runs the campaign and answers for its outreach and retrospective

OWNERS_BY_GROUP: dict[str, str] = {
    "landing": DATA_ENGINEERING,
    "ingestion": DATA_ENGINEERING,
    "staging": DATA_ENGINEERING,
    "reference_data": ANALYTICS,
    "intermediate": ANALYTICS,
    "marts": ANALYTICS,
    "evaluation": ANALYTICS,
    "outreach": OPERATIONS,
    "retrospective": OPERATIONS,
    "serving": DATA_ENGINEERING,
}


def owners(group: str) -> list[str]:
    return [OWNERS_BY_GROUP[group]]
