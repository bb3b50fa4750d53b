"""Databases family: RDS instances, RDS (Aurora) clusters, DynamoDB tables, ElastiCache clusters.

What matters to people here: engine and version (end of support), size and class
(cost), encryption, public reachability, backups and deletion protection. Figures
AWS refreshes on its own schedule (item counts, table sizes, free storage) are left
out: they would make a new version of an unchanged database every few hours.
"""

from __future__ import annotations

from elava.catalogue.registry import register, register_family
from elava.catalogue.relations import uses
from elava.catalogue.trail import arns, family, ids
from elava.catalogue.types import DetailCall, Lifecycle, Lookup, ResourceType
from elava.catalogue.usage import Metric, Usage

RDS, DYNAMODB, ELASTICACHE = "rds.amazonaws.com", "dynamodb.amazonaws.com", "elasticache.amazonaws.com"
# RDS states AWS leaves on its own once the call that began them is done; and those it
# enters on its own (automated backups, maintenance windows, storage tuning).
RDS_SETTLING = ("creating", "starting", "stopping", "modifying", "rebooting", "upgrading", "renaming",
                "resetting-master-credentials", "configuring-enhanced-monitoring", "configuring-log-exports",
                "configuring-iam-database-auth")
RDS_AWS_INITIATED = ("backing-up", "maintenance", "storage-optimization")

RDS_INSTANCE = register(
    ResourceType(
        name="rds.instance",
        lifecycle=Lifecycle("status", running=("available",), stopped=("stopped",),
                            settling=RDS_SETTLING, aws_initiated=RDS_AWS_INITIATED),
        service="rds",
        list_operation="describe_db_instances",
        list_params={"MaxRecords": 100},
        result_path="DBInstances",
        id_field="DBInstanceIdentifier",
        lookup=Lookup("DBInstanceIdentifier", as_list=False, gone_errors=frozenset({"DBInstanceNotFound"})),
        name_field="DBInstanceIdentifier",
        arn_field="DBInstanceArn",
        arn_template="arn:{partition}:rds:{region}:{account}:db:{id}",
        lower_case_ids=True,
        tags_from="inline:TagList",
        attributes={
            "status": "DBInstanceStatus",
            "engine": "Engine",
            "engine_version": "EngineVersion",
            "instance_class": "DBInstanceClass",
            "cluster": "DBClusterIdentifier",
            "allocated_storage_gib": "AllocatedStorage",
            "storage_type": "StorageType",
            "iops": "Iops",
            "storage_encrypted": "StorageEncrypted",
            "kms_key_id": "KmsKeyId",
            "multi_az": "MultiAZ",
            "publicly_accessible": "PubliclyAccessible",
            "endpoint": "Endpoint.Address",
            "port": "Endpoint.Port || DbInstancePort",
            "availability_zone": "AvailabilityZone",
            "vpc_id": "DBSubnetGroup.VpcId",
            "subnet_group": "DBSubnetGroup.DBSubnetGroupName",
            "security_groups": "sort(VpcSecurityGroups[].VpcSecurityGroupId || `[]`)",
            "parameter_groups": "sort(DBParameterGroups[].DBParameterGroupName || `[]`)",
            "backup_retention_days": "BackupRetentionPeriod",
            "deletion_protection": "DeletionProtection",
            "iam_auth": "IAMDatabaseAuthenticationEnabled",
            "auto_minor_version_upgrade": "AutoMinorVersionUpgrade",
            "performance_insights": "PerformanceInsightsEnabled",
            "ca_certificate": "CACertificateIdentifier",
            "license_model": "LicenseModel",
            "master_username": "MasterUsername",
            "created": "InstanceCreateTime",
        },
        edges=(
            uses("cluster", "rds.cluster", "cluster"),
            uses("security-groups", "ec2.security-group", "security_groups"),
            uses("vpc", "ec2.vpc", "vpc_id"),
            uses("kms-key", "kms.key", "kms_key_id"),
        ),
        usage=Usage(
            # Published every minute while the instance runs, zero included.
            metrics=(Metric("connections", "AWS/RDS", "DatabaseConnections", "Maximum",
                            {"DBInstanceIdentifier": "id"}, "connections", when={"attributes.status": "available"}),),
            units={"instance_class": "attributes.instance_class", "engine": "attributes.engine",
                   "gib": "attributes.allocated_storage_gib", "storage_type": "attributes.storage_type",
                   "multi_az": "attributes.multi_az", "license_model": "attributes.license_model"},
            created="attributes.created",
        ),
        trail=(
            family("RDS DB instances", RDS,
                   "CreateDBInstance CreateDBInstanceReadReplica ModifyDBInstance DeleteDBInstance RebootDBInstance "
                   "StartDBInstance StopDBInstance RestoreDBInstanceFromDBSnapshot RestoreDBInstanceToPointInTime "
                   "PromoteReadReplica",
                   ids("response.dBInstanceArn", "request.dBInstanceIdentifier", "request.newDBInstanceIdentifier",
                       "request.targetDBInstanceIdentifier"),
                   # an Aurora member joins or leaves its cluster
                   ids("request.dBClusterIdentifier", "response.dBClusterIdentifier", type="rds.cluster",
                       only_on=("Create", "Delete")),
                   where="dBInstanceArn, dBInstanceIdentifier (lower-cased); dBClusterIdentifier on create/delete"),
        ),
    )
)

RDS_CLUSTER = register(
    ResourceType(
        name="rds.cluster",
        lifecycle=Lifecycle("status", running=("available",), stopped=("stopped",),
                            settling=RDS_SETTLING, aws_initiated=RDS_AWS_INITIATED),
        service="rds",
        list_operation="describe_db_clusters",
        list_params={"MaxRecords": 100},
        result_path="DBClusters",
        id_field="DBClusterIdentifier",
        lookup=Lookup("DBClusterIdentifier", as_list=False, gone_errors=frozenset({"DBClusterNotFoundFault"})),
        name_field="DBClusterIdentifier",
        arn_field="DBClusterArn",
        arn_template="arn:{partition}:rds:{region}:{account}:cluster:{id}",
        lower_case_ids=True,
        tags_from="inline:TagList",
        attributes={
            "status": "Status",
            "engine": "Engine",
            "engine_version": "EngineVersion",
            "engine_mode": "EngineMode",
            "members": "sort_by(DBClusterMembers || `[]`, &DBInstanceIdentifier)"
                       "[].{instance: DBInstanceIdentifier, writer: IsClusterWriter}",
            "serverless_v2_scaling": "ServerlessV2ScalingConfiguration",
            "instance_class": "DBClusterInstanceClass",
            "storage_type": "StorageType",
            "allocated_storage_gib": "AllocatedStorage",
            "storage_encrypted": "StorageEncrypted",
            "kms_key_id": "KmsKeyId",
            "multi_az": "MultiAZ",
            "publicly_accessible": "PubliclyAccessible",
            "endpoint": "Endpoint",
            "reader_endpoint": "ReaderEndpoint",
            "port": "Port",
            "availability_zones": "sort(AvailabilityZones || `[]`)",
            "subnet_group": "DBSubnetGroup",
            "security_groups": "sort(VpcSecurityGroups[].VpcSecurityGroupId || `[]`)",
            "parameter_group": "DBClusterParameterGroup",
            "backup_retention_days": "BackupRetentionPeriod",
            "deletion_protection": "DeletionProtection",
            "iam_auth": "IAMDatabaseAuthenticationEnabled",
            "global_cluster": "GlobalClusterIdentifier",
            "master_username": "MasterUsername",
            "created": "ClusterCreateTime",
        },
        edges=(
            uses("members", "rds.instance", "members[].instance"),
            uses("security-groups", "ec2.security-group", "security_groups"),
            uses("kms-key", "kms.key", "kms_key_id"),
        ),
        trail=(
            family("RDS DB clusters", RDS,
                   "CreateDBCluster ModifyDBCluster DeleteDBCluster StartDBCluster StopDBCluster FailoverDBCluster "
                   "RebootDBCluster RestoreDBClusterFromSnapshot RestoreDBClusterToPointInTime",
                   ids("response.dBClusterArn", "request.dBClusterIdentifier", "request.newDBClusterIdentifier"),
                   where="dBClusterArn, dBClusterIdentifier (lower-cased)"),
        ),
    )
)

register_family(family("RDS tags", RDS, "AddTagsToResource RemoveTagsFromResource",
                       arns("request.resourceName", types=(RDS_INSTANCE.name, RDS_CLUSTER.name)),
                       where="requestParameters.resourceName (an ARN)"))

DYNAMODB_TABLE = register(
    ResourceType(
        name="dynamodb.table",
        lifecycle=Lifecycle("status", settling=("CREATING", "UPDATING")),
        churn={"read_capacity": "DynamoDB auto scaling moves provisioned capacity",
               "write_capacity": "DynamoDB auto scaling moves provisioned capacity"},
        service="dynamodb",
        list_operation="list_tables",
        result_path="TableNames",
        item_key="TableName",
        id_field="TableName",
        name_field="TableName",
        arn_field="Table.TableArn",
        arn_template="arn:{partition}:dynamodb:{region}:{account}:table/{id}",
        describe=DetailCall("describe_table", {"TableName": "TableName"}, "Table", result_path="Table",
                            none_errors=frozenset({"ResourceNotFoundException"})),
        tags_from="detail:Tags",
        bulk_tags="dynamodb:table",
        details=(
            DetailCall("list_tags_of_resource", {"ResourceArn": "Table.TableArn"}, "Tags", result_path="Tags",
                       paged=True),
            DetailCall("describe_continuous_backups", {"TableName": "TableName"}, "Backups",
                       result_path="ContinuousBackupsDescription.PointInTimeRecoveryDescription"
                                   ".PointInTimeRecoveryStatus"),
        ),
        attributes={
            "status": "Table.TableStatus",
            "billing_mode": "Table.BillingModeSummary.BillingMode || 'PROVISIONED'",
            "read_capacity": "Table.ProvisionedThroughput.ReadCapacityUnits",
            "write_capacity": "Table.ProvisionedThroughput.WriteCapacityUnits",
            "table_class": "Table.TableClassSummary.TableClass || 'STANDARD'",
            "key_schema": "Table.KeySchema[].{attribute: AttributeName, key: KeyType}",
            "global_indexes": "sort(Table.GlobalSecondaryIndexes[].IndexName || `[]`)",
            "local_indexes": "sort(Table.LocalSecondaryIndexes[].IndexName || `[]`)",
            "stream": "Table.StreamSpecification.StreamEnabled && Table.StreamSpecification.StreamViewType"
                      " || `null`",
            # No SSEDescription: encrypted with a key AWS owns (the default).
            "encryption": "Table.SSEDescription.{status: Status, type: SSEType, kms_key: KMSMasterKeyArn}"
                          " || `null`",
            "point_in_time_recovery": "Backups",
            "deletion_protection": "Table.DeletionProtectionEnabled",
            "replica_regions": "sort(Table.Replicas[].RegionName || `[]`)",
            "created": "Table.CreationDateTime",
        },
        edges=(
            uses("kms-key", "kms.key", "encryption.kms_key"),
        ),
        trail=(
            family("DynamoDB tables", DYNAMODB,
                   "CreateTable UpdateTable DeleteTable UpdateContinuousBackups TagResource UntagResource",
                   ids("response.tableDescription.tableArn", "request.tableName", "request.resourceArn"),
                   where="tableDescription.tableArn, tableName, resourceArn"),
        ),
    )
)

ELASTICACHE_CLUSTER = register(
    ResourceType(
        name="elasticache.cluster",
        lifecycle=Lifecycle("status", settling=("creating", "modifying", "rebooting cluster nodes"),
                            aws_initiated=("snapshotting",)),
        service="elasticache",
        list_operation="describe_cache_clusters",
        list_params={"MaxRecords": 100},
        result_path="CacheClusters",
        id_field="CacheClusterId",
        name_field="CacheClusterId",
        arn_field="ARN",
        arn_template="arn:{partition}:elasticache:{region}:{account}:cluster:{id}",
        lower_case_ids=True,
        tags_from="detail:TagList",
        details=(
            DetailCall("list_tags_for_resource", {"ResourceName": "ARN"}, "TagList", result_path="TagList"),
        ),
        attributes={
            "status": "CacheClusterStatus",
            "engine": "Engine",
            "engine_version": "EngineVersion",
            "node_type": "CacheNodeType",
            "nodes": "NumCacheNodes",
            "replication_group": "ReplicationGroupId",
            "availability_zone": "PreferredAvailabilityZone",
            "subnet_group": "CacheSubnetGroupName",
            "security_groups": "sort(SecurityGroups[].SecurityGroupId || `[]`)",
            "transit_encryption": "TransitEncryptionEnabled",
            "at_rest_encryption": "AtRestEncryptionEnabled",
            "auth_token_enabled": "AuthTokenEnabled",
            "snapshot_retention_days": "SnapshotRetentionLimit",
            "auto_minor_version_upgrade": "AutoMinorVersionUpgrade",
            "network_type": "NetworkType",
            "created": "CacheClusterCreateTime",
        },
        edges=(
            uses("security-groups", "ec2.security-group", "security_groups"),
        ),
        trail=(
            family("ElastiCache clusters", ELASTICACHE,
                   "CreateCacheCluster ModifyCacheCluster DeleteCacheCluster RebootCacheCluster",
                   ids("response.aRN", "request.cacheClusterId"), where="ARN in the response, cacheClusterId (lower-cased)"),
            family("ElastiCache tags", ELASTICACHE, "AddTagsToResource RemoveTagsFromResource",
                   arns("request.resourceName"), where="requestParameters.resourceName (an ARN)"),
        ),
    )
)
