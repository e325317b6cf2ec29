"""The campaign retrospective as people read it: an HTML report, weekly progress pages and BI files, rendered
from the aggregate tables of the `retrospective` schema (never from member-level rows)."""
