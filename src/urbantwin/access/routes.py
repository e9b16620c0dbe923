"""The admin API at `/api/admin/` and the signed-in user's own view at `/api/me`: a thin binding of
`AccessAdmin`. Administration needs an administrator's token with the admin scope; a data steward
may change the records of their organisation's datasets; everyone signed in may see themselves and
manage their own tokens."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from urbantwin.access.http import request_access, request_caller, request_principal
from urbantwin.access.manage import AccessAdmin
from urbantwin.access.principal import Principal
from urbantwin.errors import NotFound, Unauthorized
from urbantwin.http import CheckedJsonRoute

#: An organisation kind (store/access_schema.py: ORGANISATION_KINDS, or a former name of one); the
#: service checks it, with a message listing the kinds.
Kind = Annotated[
    str,
    Field(
        description=(
            "local-authority, regional-authority, national-authority, supranational-authority, "
            "municipal-company, company, research, ngo, non-profit, industry-consortium, "
            "standardisation-body or private-individual (the catalogue's ADMS publisher type)"
        ),
        max_length=100,
    ),
]
Role = Literal["reader", "contributor", "data_steward", "administrator"]
Level = Literal["open", "registered", "partner", "internal"]
Scope = Literal["read", "write", "admin"]
Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganisationIn(_Strict):
    id: Ident
    title: Annotated[str, Field(min_length=1, max_length=500)]
    kind: Kind
    homepage: str | None = None
    email: str | None = None


class OrganisationPatch(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    kind: Kind | None = None
    homepage: str | None = None
    email: str | None = None


class UserIn(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^:]+$")]
    role: Role = "reader"
    display_name: str | None = None
    email: str | None = None
    organisation_id: str | None = None
    default_dataset_id: str | None = None
    password: Annotated[str, Field(min_length=12, max_length=1000)] | None = None


class UserPatch(_Strict):
    role: Role | None = None
    display_name: str | None = None
    email: str | None = None
    organisation_id: str | None = None
    default_dataset_id: str | None = None
    active: bool | None = None
    password: Annotated[str, Field(min_length=12, max_length=1000)] | None = None


class GroupIn(_Strict):
    id: Ident
    title: Annotated[str, Field(min_length=1, max_length=500)]
    organisation_id: str | None = None
    description: str = ""


class TokenIn(_Strict):
    #: None: what the user's role allows, short of admin (a scope beyond the role is a 400).
    scopes: list[Scope] | None = None
    expires_in_days: Annotated[float, Field(gt=0, le=3650)] | None = 365
    name: Annotated[str, Field(max_length=200)] = ""


class DatasetFields(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    description: str | None = None
    publisher_id: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    themes: list[str] | None = None
    keywords: list[str] | None = None
    licence: str | None = None
    access_level: Level | None = None
    read_groups: list[str] | None = None
    writers: list[str] | None = None
    update_frequency: str | None = None
    extra: dict[str, Any] | None = None


class DatasetIn(DatasetFields):
    id: Ident
    title: Annotated[str, Field(min_length=1, max_length=500)]


class MembersIn(_Strict):
    entity_set: Literal[
        "Things", "Datastreams", "Sensors", "ObservedProperties", "Locations", "FeaturesOfInterest"
    ]
    ids: Annotated[list[Annotated[int, Field(ge=0, le=2**63 - 1)]], Field(min_length=1, max_length=10_000)]


def _given(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_unset=True)


def request_admin(request: Request) -> AccessAdmin:
    """The administration of the app that serves the request (`app.state.access_admin`)."""
    return request.app.state.access_admin


@cache
def build_router() -> APIRouter:
    """The routes, built once per process and shared by every app (FastAPI's analysis of each
    route's signature was a fifth of the start of an app): they close over nothing of one app and
    find its administration through the request."""
    router = APIRouter(prefix="/api", tags=["Administration"], route_class=CheckedJsonRoute)

    def administrator(request: Request) -> Principal:
        caller = request_caller(request)
        request_access(request).authorize_admin(caller)
        return caller.principal

    def signed_in(request: Request) -> Principal:
        principal = request_principal(request)
        if principal.user_id is None:
            raise Unauthorized("this needs a user's token (Authorization: Bearer …)")
        return principal

    async def call(function: Any, *args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(function, *args, **kwargs)

    # --- organisations, users, groups ------------------------------------------------------------

    @router.get("/admin/organisations", summary="List organisations")
    async def list_organisations(request: Request) -> list[dict[str, Any]]:
        await call(administrator, request)
        return await call(request_admin(request).organisations)

    @router.post("/admin/organisations", status_code=201, summary="Add an organisation")
    async def add_organisation(request: Request, body: OrganisationIn) -> dict[str, Any]:
        principal = await call(administrator, request)
        fields = body.model_dump()
        return await call(request_admin(request).add_organisation, principal, fields.pop("id"), **fields)

    @router.patch(
        "/admin/organisations/{ident}",
        status_code=204,
        summary="Change an organisation's title, kind, homepage or e-mail address",
    )
    async def update_organisation(request: Request, ident: str, body: OrganisationPatch) -> None:
        principal = await call(administrator, request)
        await call(request_admin(request).update_organisation, principal, ident, **_given(body))

    @router.get("/admin/users", summary="List users with their groups")
    async def list_users(request: Request) -> list[dict[str, Any]]:
        await call(administrator, request)
        return await call(request_admin(request).users)

    @router.post("/admin/users", status_code=201, summary="Add a user")
    async def add_user(request: Request, body: UserIn) -> dict[str, Any]:
        principal = await call(administrator, request)
        fields = _given(body)
        return await call(request_admin(request).add_user, principal, fields.pop("name"), **fields)

    @router.patch(
        "/admin/users/{name}", status_code=204, summary="Change a user (role, organisation, active…)"
    )
    async def update_user(request: Request, name: str, body: UserPatch) -> None:
        principal = await call(administrator, request)
        await call(request_admin(request).update_user, principal, name, **_given(body))

    @router.get("/admin/groups", summary="List groups with their members")
    async def list_groups(request: Request) -> list[dict[str, Any]]:
        await call(administrator, request)
        return await call(request_admin(request).groups)

    @router.post("/admin/groups", status_code=201, summary="Add a group")
    async def add_group(request: Request, body: GroupIn) -> dict[str, Any]:
        principal = await call(administrator, request)
        fields = body.model_dump()
        return await call(request_admin(request).add_group, principal, fields.pop("id"), **fields)

    @router.put("/admin/groups/{group}/members/{user}", status_code=204, summary="Add a user to a group")
    async def add_member(request: Request, group: str, user: str) -> None:
        principal = await call(administrator, request)
        await call(request_admin(request).set_membership, principal, group, user, True)

    @router.delete(
        "/admin/groups/{group}/members/{user}", status_code=204, summary="Remove a user from a group"
    )
    async def remove_member(request: Request, group: str, user: str) -> None:
        principal = await call(administrator, request)
        await call(request_admin(request).set_membership, principal, group, user, False)

    # --- tokens ------------------------------------------------------------------------------------

    @router.post(
        "/admin/users/{name}/tokens",
        status_code=201,
        summary="Issue a token for a user (shown once; stored hashed)",
    )
    async def issue_token(request: Request, name: str, body: TokenIn) -> dict[str, Any]:
        principal = await call(administrator, request)
        issued = await call(
            request_admin(request).issue_token, principal, name, body.scopes, body.expires_in_days, body.name
        )
        return _issued(issued)

    @router.get("/admin/tokens", summary="List tokens (never the tokens themselves)")
    async def list_tokens(
        request: Request, user: Annotated[str | None, Query()] = None
    ) -> list[dict[str, Any]]:
        await call(administrator, request)
        return await call(request_admin(request).tokens, user)

    @router.delete("/admin/tokens/{token_id}", status_code=204, summary="Revoke a token")
    async def revoke_token(request: Request, token_id: Annotated[int, Field(ge=0, le=2**63 - 1)]) -> None:
        principal = await call(administrator, request)
        await call(request_admin(request).revoke_token, principal, token_id)

    @router.get("/me", summary="Who the request's token proves", tags=["Access"])
    async def me(request: Request) -> dict[str, Any]:
        principal = await call(request_principal, request)
        return {
            "name": principal.name,
            "role": principal.role,
            "organisation": principal.organisation_id,
            "groups": sorted(principal.groups),
            "scopes": sorted(principal.scopes),
            "proof": principal.proof,
        }

    @router.get("/me/tokens", summary="My tokens", tags=["Access"])
    async def my_tokens(request: Request) -> list[dict[str, Any]]:
        principal = await call(signed_in, request)
        return await call(request_admin(request).tokens, principal.name)

    @router.post("/me/tokens", status_code=201, summary="Issue myself a token", tags=["Access"])
    async def issue_my_token(request: Request, body: TokenIn) -> dict[str, Any]:
        principal = await call(signed_in, request)
        issued = await call(
            request_admin(request).issue_token,
            principal,
            principal.name,
            body.scopes,
            body.expires_in_days,
            body.name,
            principal.scopes,
        )
        return _issued(issued)

    @router.delete(
        "/me/tokens/{token_id}", status_code=204, summary="Revoke one of my tokens", tags=["Access"]
    )
    async def revoke_my_token(request: Request, token_id: Annotated[int, Field(ge=0, le=2**63 - 1)]) -> None:
        principal = await call(signed_in, request)
        if await call(request_admin(request).token_owner, token_id) != principal.name:
            raise NotFound(f"no token {token_id} of yours")
        await call(request_admin(request).revoke_token, principal, token_id)

    # --- datasets ----------------------------------------------------------------------------------

    def steward(request: Request, ident: str) -> Principal:
        principal = request_principal(request)
        with request.app.state.engine.connect() as connection:
            request_access(request).policy.authorize_steward(principal, connection, ident)
        return principal

    @router.get("/admin/datasets", summary="List every dataset with its access rules")
    async def list_datasets(request: Request) -> list[dict[str, Any]]:
        await call(administrator, request)
        return await call(request_admin(request).datasets)

    @router.post("/admin/datasets", status_code=201, summary="Add a dataset")
    async def add_dataset(request: Request, body: DatasetIn) -> dict[str, Any]:
        principal = await call(administrator, request)
        fields = _given(body)
        ident = fields.pop("id")
        await call(request_admin(request).add_dataset, principal, ident, **fields)
        return {"id": ident}

    @router.patch(
        "/datasets/{ident}",
        status_code=204,
        summary="Change a dataset's record or access rules (administrators, the publisher's data stewards)",
    )
    async def update_dataset(request: Request, ident: str, body: DatasetFields) -> None:
        principal = await call(steward, request, ident)
        await call(request_admin(request).update_dataset, principal, ident, **_given(body))

    @router.post(
        "/datasets/{ident}/members",
        summary="Move SensorThings entities into a dataset (a Thing takes its Datastreams and Locations)",
        responses={
            403: {"description": "No data steward of the dataset, or no write rights where rows leave."},
            404: {"description": "No such dataset, or ids naming nothing the caller may read."},
            409: {"description": "The move would hide an entity from readers of what uses it."},
        },
    )
    async def move_members(request: Request, ident: str, body: MembersIn) -> dict[str, int]:
        # The policy judges the move as a whole (target, the datasets rows leave, their users).
        principal = await call(request_principal, request)
        moved = await call(
            request_admin(request).move,
            principal,
            request_access(request).policy,
            ident,
            body.entity_set,
            body.ids,
        )
        return {"changed": moved}

    # --- accountability ----------------------------------------------------------------------------

    @router.get("/admin/audit", summary="The audit log: writes, and reads of restricted data")
    async def audit(
        request: Request,
        principal: Annotated[str | None, Query(description="who")] = None,
        dataset: Annotated[str | None, Query(description="which dataset")] = None,
        action: Annotated[str | None, Query(description="read, create, update, delete, admin")] = None,
        since: Annotated[datetime | None, Query(description="from (RFC 3339)")] = None,
        until: Annotated[datetime | None, Query(description="until, exclusive (RFC 3339)")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[dict[str, Any]]:
        await call(administrator, request)
        return await call(
            request_admin(request).audit_records, principal, dataset, action, since, until, limit
        )

    @router.get("/admin/usage", summary="Requests per dataset and API, for reporting")
    async def usage(
        request: Request,
        since: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="first day")] = None,
        until: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="last day")] = None,
    ) -> list[dict[str, Any]]:
        await call(administrator, request)
        return await call(request_admin(request).usage, since, until)

    return router


def _issued(issued: Any) -> dict[str, Any]:
    return {
        "id": issued.id,
        "token": issued.token,
        "user": issued.user,
        "scopes": issued.scopes,
        "expires": issued.expires.isoformat() if issued.expires else None,
        "note": "The token is shown this once; it is stored only as a hash.",
        # Whether the MQTT broker took it (username: its first characters, password: the token);
        # null where the platform does not manage the broker's accounts.
        "mqtt": issued.mqtt,
    }
