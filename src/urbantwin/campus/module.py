"""The Digitalcampus's declaration in the module registry (see `urbantwin.module`): offers and events
of digital education and the digital festival at /api/campus/, with iCalendar export."""

from __future__ import annotations

from urbantwin.module import Context, Module, Mounted, unless_unmigrated


def mount(context: Context) -> Mounted:
    from urbantwin.campus.routes import build_page_router, build_router
    from urbantwin.campus.service import CampusService, ensure_dataset
    from urbantwin.store.engine import for_writes

    def start() -> None:
        with for_writes(context.engine).begin() as connection:
            ensure_dataset(connection)

    return Mounted(
        routers=[build_router(), build_page_router()],
        start=unless_unmigrated(start, "the campus dataset"),
        state={"campus": CampusService(context.engine, context.access)},
    )


MODULE = Module(
    name="campus",
    summary="The Digitalcampus at /api/campus/: offers and events (format, audience by age and "
    "experience, date and place, organiser, registration), search and filters, iCalendar export, "
    "and a page per event at /participate/campus/events/<id>",
    mount=mount,
    catalogue_datasets=("campus",),
)
