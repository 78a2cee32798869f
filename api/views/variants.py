"""Blueprint pathways' local variants: each variant of a version clinically approved on its own."""

from __future__ import annotations

from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.schemas import ApprovalSchema
from api.variant_schemas import ApprovedVariantSchema

blp = Blueprint(
    "variants",
    __name__,
    url_prefix="/api/v1/definitions",
    description="Blueprints: one diagram with local variants per organisation or point of access; a version "
    "lists its parameters and variants, and each variant is clinically approved on its own",
)


@blp.route("/<string:key>/versions/<int:number>/variants/<string:name>/approve", methods=["POST"])
@requires("clinical-approver")
@blp.arguments(ApprovalSchema)
@blp.response(
    200,
    ApprovedVariantSchema,
    description="the variant, approved, with the approval's reason: referrals at its points of access start "
    "on it once its version may take referrals too",
)
def approve_variant(body: dict, key: str, number: int, name: str):
    return signpost().variants.approve(key, number, name, current_client(), reason=body["reason"])
