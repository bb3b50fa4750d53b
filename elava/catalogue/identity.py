"""Identity family: IAM roles, KMS keys (customer managed), ECR repositories, Route 53 zones.

IAM and Route 53 are global: listed once per account (scope ``global``). Roles come
from ``get_account_authorization_details``, which carries each role's tags, trust
policy and policies in its pages (about one call per hundred roles instead of
several per role). Who may act is what a security engineer looks for first, so
trust and resource policies are summarised as the principals they allow.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from elava.catalogue.arns import ArnMatch
from elava.catalogue.registry import register
from elava.catalogue.relations import uses
from elava.catalogue.trail import Custom, TrailCall, family
from elava.catalogue.types import Batch, DetailCall, Lifecycle, ResourceType
from elava.catalogue.usage import Usage
from elava.events import TouchedResource

IAM, KMS, ECR, ROUTE53 = "iam.amazonaws.com", "kms.amazonaws.com", "ecr.amazonaws.com", "route53.amazonaws.com"


def policy_document(policy: Any) -> dict[str, Any] | None:
    """A policy as a dict (botocore decodes IAM's; others come as JSON text)."""
    if policy is None or isinstance(policy, dict):
        return policy
    text = str(policy)
    if text.startswith("%7B"):
        text = urllib.parse.unquote(text)
    return json.loads(text)


def _statements(policy: Any) -> list[dict[str, Any]]:
    statements = (policy_document(policy) or {}).get("Statement") or []
    return [statements] if isinstance(statements, dict) else statements


def allowed_principals(policy: Any) -> list[str]:
    """``["*", "AWS:arn:aws:iam::999999999999:root", "Service:lambda.amazonaws.com"]``."""
    principals: set[str] = set()
    for statement in _statements(policy):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if principal == "*":
            principals.add("*")
            continue
        for kind, values in (principal or {}).items():
            for value in [values] if isinstance(values, str) else values:
                principals.add("*" if value == "*" else f"{kind}:{value}")
    return sorted(principals)


def open_to_anyone(policy: Any) -> bool:
    """Some statement allows anyone (``*``) with no condition to narrow it (a source ARN, an org)."""
    for statement in _statements(policy):
        principal = statement.get("Principal")
        values = principal.get("AWS") if isinstance(principal, dict) else principal
        anyone = "*" in ([values] if isinstance(values, str) else values or [])
        if statement.get("Effect") == "Allow" and anyone and not statement.get("Condition"):
            return True
    return False


# --- IAM --------------------------------------------------------------------------------

def normalise_role(attributes: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    trust = policy_document(raw.get("AssumeRolePolicyDocument"))
    inline = {policy.get("PolicyName"): policy_document(policy.get("PolicyDocument"))
              for policy in raw.get("RolePolicyList") or []}
    return {
        **attributes,
        "trust_policy": trust,
        "trusted_principals": allowed_principals(trust),
        "inline_policies": dict(sorted(inline.items())),
    }


_ROLE_ARN_PATHS = ("response.role.arn", "resources/ARN")


def roles_named(call: TrailCall, type_name: str) -> list[TouchedResource]:
    """By ARN; else by name, with the record's path ("/" when it gives none: the store resolves it)."""
    known = [t for t in call.by_arn(*_ROLE_ARN_PATHS) if t.type == type_name]
    if known:
        return known
    path = call.get("request.path")
    inner = (path if isinstance(path, str) else "/").strip("/")
    found = []
    for name in call.ids("request.roleName"):
        uid = call.make(type_name, f"{inner}/{name}" if inner else name).uid
        found.append(TouchedResource(uid=uid, type=type_name, id=name))
    return found


IAM_ROLE = register(
    ResourceType(
        name="iam.role",
        service="iam",
        list_operation="get_account_authorization_details",
        list_params={"Filter": ["Role"], "MaxItems": 1000},
        result_path="RoleDetailList",
        global_service=True,
        id_field="RoleName",
        name_field="RoleName",
        arn_field="Arn",
        arn_template="arn:{partition}:iam::{account}:role/{id}",
        # The ARN holds the role's path; the id is the name.
        arn_match=ArnMatch("iam", r"^role/(?:.*/)?(?P<id>[^/]+)$", keep_arn=True),
        guessed_from_names=True,
        tags_from="inline:Tags",
        attributes={  # not RoleLastUsed: it moves whenever the role is used
            "role_id": "RoleId",
            "path": "Path",
            "created": "CreateDate",
            "managed_policies": "sort(AttachedManagedPolicies[].PolicyArn || `[]`)",
            "permissions_boundary": "PermissionsBoundary.PermissionsBoundaryArn",
            "instance_profiles": "sort(InstanceProfileList[].InstanceProfileName || `[]`)",
        },
        transform=normalise_role,
        trail=(
            family("IAM roles", IAM,
                   "CreateRole CreateServiceLinkedRole DeleteRole DeleteServiceLinkedRole UpdateRole "
                   "UpdateRoleDescription UpdateAssumeRolePolicy AttachRolePolicy DetachRolePolicy PutRolePolicy "
                   "DeleteRolePolicy TagRole UntagRole PutRolePermissionsBoundary DeleteRolePermissionsBoundary "
                   "AddRoleToInstanceProfile RemoveRoleFromInstanceProfile", Custom(roles_named, _ROLE_ARN_PATHS),
                   where="role.arn; else roleName (+ path) — a role with a path needs the ARN"),
        ),
    )
)


# --- KMS --------------------------------------------------------------------------------

def not_customer_managed(item: dict[str, Any]) -> bool:
    """AWS-managed keys (``aws/s3``, ...) belong to AWS: not ours to observe."""
    return (item.get("Key") or {}).get("KeyManager") != "CUSTOMER"


def _key_detail(operation: str, store_as: str, result_path: str, **kwargs: Any) -> DetailCall:
    return DetailCall(operation, {"KeyId": "KeyId"}, store_as, result_path=result_path, **kwargs)


_KEY_PATHS = ("response.keyMetadata.arn", "resources/ARN", "request.keyId", "request.targetKeyId")


def keys_named(call: TrailCall, type_name: str) -> list[TouchedResource]:
    # KMS fills the record's "resources" with the key ARN; a keyId may also be an alias.
    return [t for t in call.named(type_name, *_KEY_PATHS) if not t.id.startswith("alias/")]


KMS_KEY = register(
    ResourceType(
        name="kms.key",
        lifecycle=Lifecycle("state", settling=("Creating", "Updating")),
        service="kms",
        list_operation="list_keys",
        list_params={"Limit": 1000},
        result_path="Keys",
        id_field="KeyId",
        name_field="sort(Aliases || `[]`)[0]",
        arn_field="KeyArn",
        arn_template="arn:{partition}:kms:{region}:{account}:key/{id}",
        describe=_key_detail("describe_key", "Key", "KeyMetadata", none_errors=frozenset({"NotFoundException"})),
        absent_when=not_customer_managed,
        tags_from="detail:Tags",
        bulk_tags="kms:key",
        details=(
            _key_detail("list_resource_tags", "Tags", "Tags", paged=True),
            _key_detail("list_aliases", "Aliases", "Aliases[].AliasName", paged=True),
            # Asymmetric, HMAC and imported keys have no rotation; a key pending deletion
            # answers nothing: none rather than a failed scan.
            _key_detail("get_key_rotation_status", "Rotation", "KeyRotationEnabled", none_errors=frozenset(
                {"UnsupportedOperationException", "KMSInvalidStateException"})),
        ),
        attributes={
            "state": "Key.KeyState",
            "enabled": "Key.Enabled",
            "description": "Key.Description",
            "key_spec": "Key.KeySpec",
            "key_usage": "Key.KeyUsage",
            "origin": "Key.Origin",
            "multi_region": "Key.MultiRegion",
            "rotation_enabled": "Rotation",
            "aliases": "sort(Aliases || `[]`)",
            "deletion_date": "Key.DeletionDate",
            "created": "Key.CreationDate",
        },
        trail=(
            family("KMS keys", KMS,
                   "CreateKey ScheduleKeyDeletion CancelKeyDeletion DisableKey EnableKey EnableKeyRotation "
                   "DisableKeyRotation PutKeyPolicy UpdateKeyDescription TagResource UntagResource CreateAlias "
                   "UpdateAlias DeleteAlias", Custom(keys_named, _KEY_PATHS),
                   where="keyMetadata.arn, the record's resources, keyId / targetKeyId"),
        ),
    )
)


# --- ECR --------------------------------------------------------------------------------

def normalise_repository(attributes: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    principals = allowed_principals(raw.get("Policy"))
    return {**attributes, "policy_principals": principals, "public": "*" in principals}


def _repository_detail(operation: str, store_as: str, **kwargs: Any) -> DetailCall:
    return DetailCall(operation, {"repositoryName": "repositoryName", "registryId": "registryId"}, store_as,
                      **kwargs)


_REPOSITORY_ARN_PATHS = ("response.repository.repositoryArn", "request.resourceArn")


def repositories_named(call: TrailCall, type_name: str) -> list[TouchedResource]:
    known = [t for t in call.by_arn(*_REPOSITORY_ARN_PATHS) if t.type == type_name]
    registry = call.get("request.registryId")  # the account of a repository named by name
    account = registry if isinstance(registry, str) and registry else None
    return known + [call.make(type_name, name, account=account) for name in call.ids("request.repositoryName")]


ECR_REPOSITORY = register(
    ResourceType(
        name="ecr.repository",
        service="ecr",
        list_operation="describe_repositories",
        list_params={"maxResults": 1000},
        result_path="repositories",
        id_field="repositoryName",
        name_field="repositoryName",
        arn_field="repositoryArn",
        arn_template="arn:{partition}:ecr:{region}:{account}:repository/{id}",
        arn_id_pattern=".+",  # names hold slashes: team/orders-api
        tags_from="detail:Tags",
        # No bulk_tags: moto's tagging API does not list ECR repositories (AWS does, as
        # ecr:repository), so the bulk path could not be tested against the per-repository tags.
        details=(
            DetailCall("list_tags_for_resource", {"resourceArn": "repositoryArn"}, "Tags", result_path="tags"),
            # Without a lifecycle policy, images pile up: storage waste.
            _repository_detail("get_lifecycle_policy", "Lifecycle", result_path="lifecyclePolicyText",
                               none_errors=frozenset({"LifecyclePolicyNotFoundException"})),
            _repository_detail("get_repository_policy", "Policy", result_path="policyText",
                               none_errors=frozenset({"RepositoryPolicyNotFoundException"})),
            # One image id at most: whether the repository is empty (waste), not how full it is,
            # so pushing images makes no new version.
            _repository_detail("list_images", "ImageSample", result_path="imageIds", static_params={"maxResults": 1},
                               default=[]),
        ),
        attributes={
            "uri": "repositoryUri",
            "registry_id": "registryId",
            "tag_mutability": "imageTagMutability",
            "scan_on_push": "imageScanningConfiguration.scanOnPush",
            "encryption": "encryptionConfiguration.encryptionType",
            "kms_key": "encryptionConfiguration.kmsKey",
            "lifecycle_policy": "Lifecycle != `null`",
            "empty": "length(ImageSample || `[]`) == `0`",
            "created": "createdAt",
        },
        transform=normalise_repository,
        edges=(
            uses("kms-key", "kms.key", "kms_key"),
        ),
        usage=Usage(units={"repositories": "`1`"}, created="attributes.created"),
        churn={"empty": "images are pushed and deleted through the data plane, not the repository's configuration "
                        "(the waste rules read it)"},
        trail=(
            family("ECR repositories", ECR,
                   "CreateRepository DeleteRepository PutImageTagMutability PutImageScanningConfiguration "
                   "PutLifecyclePolicy DeleteLifecyclePolicy SetRepositoryPolicy DeleteRepositoryPolicy TagResource "
                   "UntagResource", Custom(repositories_named, _REPOSITORY_ARN_PATHS),
                   where="repository.repositoryArn, resourceArn, repositoryName (+ registryId)"),
        ),
    )
)


# --- Route 53 ---------------------------------------------------------------------------

_ZONE_PATHS = ("response.hostedZone.id", "request.hostedZoneId", "request.id")


def zones_named(call: TrailCall, type_name: str) -> list[TouchedResource]:
    """Route 53 answers "/hostedzone/Z123"; the collector's id is "Z123"."""
    references = call.ids(*_ZONE_PATHS)
    if str(call.get("request.resourceType") or "").lower() == "hostedzone":  # ChangeTagsForResource
        references += call.ids("request.resourceId")
    return [call.make(type_name, reference.rsplit("/", 1)[-1]) for reference in references]


ROUTE53_HOSTED_ZONE = register(
    ResourceType(
        name="route53.hosted-zone",
        service="route53",
        list_operation="list_hosted_zones",
        result_path="HostedZones",
        global_service=True,
        id_field="split(Id, '/')[-1]",  # AWS lists "/hostedzone/Z123"
        name_field="Name",
        arn_template="arn:{partition}:route53:::hostedzone/{id}",
        tags_from="detail:Tags",
        details=(
            DetailCall("list_tags_for_resources", {"ResourceIds": "split(Id, '/')[-1]"}, "Tags",
                       static_params={"ResourceType": "hostedzone"}, result_path="ResourceTagSets",
                       batch=Batch("ResourceIds", 10, match="ResourceId", value="Tags || `[]`"), default=[]),
        ),
        attributes={
            "zone_name": "Name",
            "private": "Config.PrivateZone",
            "comment": "Config.Comment",
            "record_count": "ResourceRecordSetCount",
        },
        trail=(
            family("Route 53 hosted zones", ROUTE53,
                   "CreateHostedZone DeleteHostedZone ChangeResourceRecordSets UpdateHostedZoneComment "
                   "AssociateVPCWithHostedZone DisassociateVPCFromHostedZone ChangeTagsForResource",
                   Custom(zones_named, _ZONE_PATHS),
                   where="hostedZone.id, hostedZoneId / id, resourceId (/hostedzone/ prefix dropped)"),
        ),
    )
)
