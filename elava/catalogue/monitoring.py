"""Monitoring family: CloudWatch Logs log groups.

What people ask of a log group: how long it keeps logs (``retention_days`` null: for
ever, and paid for ever), which KMS key encrypts it, its class. Stored bytes move
with every line written and are left out.
"""

from __future__ import annotations

from elava.catalogue.arns import ArnMatch
from elava.catalogue.registry import register
from elava.catalogue.relations import uses
from elava.catalogue.trail import arns, family, ids
from elava.catalogue.types import DetailCall, Lookup, ResourceType

LOGS = "logs.amazonaws.com"

LOGS_LOG_GROUP = register(
    ResourceType(
        name="logs.log-group",
        service="logs",
        list_operation="describe_log_groups",
        list_params={"limit": 50},
        result_path="logGroups",
        id_field="logGroupName",
        name_field="logGroupName",
        # describe_log_groups gives "...:log-group:<name>:*" as arn; the uid is the group's
        # own ARN, without ":*" (logGroupArn, and what tagging calls name).
        arn_template="arn:{partition}:logs:{region}:{account}:log-group:{id}",
        arn_match=ArnMatch("logs", r"^log-group:(?P<id>[^:]+)(:\*)?$"),
        # By prefix; the exact name is kept.
        lookup=Lookup("logGroupNamePrefix", as_list=False, params={"limit": 50},
                      gone_errors=frozenset({"ResourceNotFoundException"})),
        tags_from="detail:Tags",
        bulk_tags="logs",  # AWS calls log groups logs:log-group, moto logs:loggroup: both are under "logs"
        details=(
            DetailCall("list_tags_for_resource", {"resourceArn": "logGroupArn"}, "Tags", result_path="tags",
                       default={}, none_errors=frozenset({"ResourceNotFoundException"})),
        ),
        attributes={
            "retention_days": "retentionInDays",
            "never_expires": "retentionInDays == `null`",
            "kms_key": "kmsKeyId",
            "log_group_class": "logGroupClass",
            "data_protection": "dataProtectionStatus",
            "deletion_protection": "deletionProtectionEnabled",
            "metric_filters": "metricFilterCount",
            "created": "creationTime",
        },
        edges=(uses("kms-key", "kms.key", "kms_key"),),
        trail=(
            family("CloudWatch log groups", LOGS,
                   "CreateLogGroup DeleteLogGroup PutRetentionPolicy DeleteRetentionPolicy AssociateKmsKey "
                   "DisassociateKmsKey TagLogGroup UntagLogGroup TagResource UntagResource PutDataProtectionPolicy "
                   "DeleteDataProtectionPolicy PutMetricFilter DeleteMetricFilter",
                   ids("request.logGroupName", "request.logGroupIdentifier", "request.resourceIdentifier"),
                   arns("request.resourceArn"),
                   where="logGroupName / logGroupIdentifier (name or ARN), resourceArn"),
        ),
    )
)
