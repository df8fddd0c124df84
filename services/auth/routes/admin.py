"""Tenants, their API clients and their users."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from services.auth import clients, tenants, users
from services.auth.context import AuthContext, get_context
from services.auth.models import ApiClient, User
from services.auth.rbac import Action, authorize
from services.auth.schemas import (
    ClientCreate,
    ClientCredentials,
    ClientOut,
    RolesUpdate,
    TenantCreate,
    TenantOut,
    UserCreate,
    UserOut,
)
from services.common.security.jwt_verify import Principal, authenticated

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])
platform_router = APIRouter(prefix="/v1/platform", tags=["platform"])
Ctx = Annotated[AuthContext, Depends(get_context)]
Caller = Annotated[Principal, Depends(authenticated)]


def _client_out(client: ApiClient) -> ClientOut:
    return ClientOut(
        client_id=client.id,
        name=client.name,
        roles=client.roles,
        created_at=client.created_at,
        secret_rotated_at=client.secret_rotated_at,
    )


def _user_out(ctx: AuthContext, user: User) -> UserOut:
    opened = users.person(ctx, user)
    return UserOut(
        id=user.id,
        email=opened.email,
        name=opened.name,
        roles=user.roles,
        mfa_enrolled=user.totp_enrolled_at is not None,
    )


@router.post("", response_model=TenantOut, status_code=201)
async def create_tenant(body: TenantCreate, principal: Caller, ctx: Ctx) -> TenantOut:
    authorize(principal, Action.TENANT_CREATE)
    tenant = await tenants.create_tenant(ctx.db, principal, body.name)
    return TenantOut(id=tenant.id, name=tenant.name)


@router.get("/{tenant_id}", response_model=TenantOut)
async def get_tenant(tenant_id: uuid.UUID, principal: Caller, ctx: Ctx) -> TenantOut:
    authorize(principal, Action.TENANT_READ, tenant_id)
    tenant = await tenants.get_tenant(ctx.db, tenant_id)
    return TenantOut(id=tenant.id, name=tenant.name)


@router.post("/{tenant_id}/clients", response_model=ClientCredentials, status_code=201)
async def create_client(
    tenant_id: uuid.UUID, body: ClientCreate, principal: Caller, ctx: Ctx
) -> ClientCredentials:
    """The secret is in this response only; store it now."""
    authorize(principal, Action.CLIENT_MANAGE, tenant_id)
    await tenants.require_tenant(ctx.db, tenant_id)
    issued = await clients.create_client(
        ctx, principal, tenant_id=tenant_id, name=body.name, roles=body.roles
    )
    return ClientCredentials(
        client_id=issued.client.id,
        client_secret=issued.client_secret,
        name=issued.client.name,
        roles=issued.client.roles,
    )


@router.get("/{tenant_id}/clients", response_model=list[ClientOut])
async def list_clients(tenant_id: uuid.UUID, principal: Caller, ctx: Ctx) -> list[ClientOut]:
    authorize(principal, Action.CLIENT_READ, tenant_id)
    return [_client_out(c) for c in await clients.list_clients(ctx, tenant_id)]


@router.post("/{tenant_id}/clients/{client_id}/secret", response_model=ClientCredentials)
async def rotate_client_secret(
    tenant_id: uuid.UUID, client_id: str, principal: Caller, ctx: Ctx
) -> ClientCredentials:
    """A new secret, shown once; the old one keeps working for the configured grace period."""
    authorize(principal, Action.CLIENT_MANAGE, tenant_id)
    issued = await clients.rotate_secret(ctx, principal, tenant_id, client_id)
    return ClientCredentials(
        client_id=issued.client.id,
        client_secret=issued.client_secret,
        name=issued.client.name,
        roles=issued.client.roles,
    )


@router.put("/{tenant_id}/clients/{client_id}/roles", response_model=ClientOut)
async def set_client_roles(
    tenant_id: uuid.UUID, client_id: str, body: RolesUpdate, principal: Caller, ctx: Ctx
) -> ClientOut:
    authorize(principal, Action.CLIENT_MANAGE, tenant_id)
    return _client_out(await clients.set_roles(ctx, principal, tenant_id, client_id, body.roles))


@router.post("/{tenant_id}/users", response_model=UserOut, status_code=201)
async def create_user(
    tenant_id: uuid.UUID, body: UserCreate, principal: Caller, ctx: Ctx
) -> UserOut:
    authorize(principal, Action.USER_MANAGE, tenant_id)
    await tenants.require_tenant(ctx.db, tenant_id)
    user = await users.create_user(
        ctx,
        principal,
        tenant_id=tenant_id,
        email=body.email,
        name=body.name,
        roles=body.roles,
        password=body.password,
    )
    return _user_out(ctx, user)


@router.get("/{tenant_id}/users", response_model=list[UserOut])
async def list_users(tenant_id: uuid.UUID, principal: Caller, ctx: Ctx) -> list[UserOut]:
    authorize(principal, Action.USER_READ, tenant_id)
    return [_user_out(ctx, u) for u in await users.list_users(ctx, tenant_id)]


@router.put("/{tenant_id}/users/{user_id}/roles", response_model=UserOut)
async def set_user_roles(
    tenant_id: uuid.UUID, user_id: uuid.UUID, body: RolesUpdate, principal: Caller, ctx: Ctx
) -> UserOut:
    authorize(principal, Action.USER_MANAGE, tenant_id)
    return _user_out(ctx, await users.set_roles(ctx, principal, tenant_id, user_id, body.roles))


@platform_router.post("/users", response_model=UserOut, status_code=201)
async def create_platform_user(body: UserCreate, principal: Caller, ctx: Ctx) -> UserOut:
    """Platform staff (role platform_support or platform_admin), in no tenant; they sign in
    with MFA like everyone else and read a tenant's data only under a break-glass grant."""
    authorize(principal, Action.PLATFORM_USER_MANAGE)
    user = await users.create_user(
        ctx,
        principal,
        tenant_id=None,
        email=body.email,
        name=body.name,
        roles=body.roles,
        password=body.password,
    )
    return _user_out(ctx, user)
