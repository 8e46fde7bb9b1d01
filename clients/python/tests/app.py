"""A small FastAPI backend whose routes depend on Keyhold's tokens, as the original's did."""
from fastapi import Depends, FastAPI

from keyhold_verify.fastapi import get_current_active_user, get_current_admin_user, require_aal, require_account_role

app = FastAPI()


@app.get("/projects")
async def projects(current_user=Depends(get_current_active_user)):
    return {"user_id": current_user.id, "account_id": current_user.account_id, "account_role": current_user.account_role}


@app.delete("/account/danger")
async def owners_only(current_user=Depends(require_account_role("owner"))):
    return {"ok": True}


@app.post("/billing")
async def second_factor_only(current_user=Depends(require_aal("aal2"))):
    return {"ok": True}


@app.get("/admin/stats")
async def platform_admins_only(current_user=Depends(get_current_admin_user)):
    return {"ok": True}
