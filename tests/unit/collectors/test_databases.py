"""Databases family: RDS instances and clusters, DynamoDB tables, ElastiCache clusters."""

from __future__ import annotations

from elava.catalogue import registry
from tests.unit.collectors.covers import covers

ACCOUNT = "123456789012"


@covers("rds.instance")
async def test_rds_instance(scan, boto):
    rds = boto("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="orders-db", Engine="postgres", EngineVersion="16.3", DBInstanceClass="db.t4g.medium",
        AllocatedStorage=50, StorageType="gp3", StorageEncrypted=True, MultiAZ=True, PubliclyAccessible=True,
        MasterUsername="admin", MasterUserPassword="never-published-9", BackupRetentionPeriod=7,
        DeletionProtection=True, Tags=[{"Key": "team", "Value": "orders"}],
    )

    run = await scan([registry.get("rds.instance")])

    [db] = run.resources("rds.instance")
    assert db.uid == f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-db"
    assert (db.type, db.id, db.name, db.tags) == ("rds.instance", "orders-db", "orders-db", {"team": "orders"})
    attributes = db.attributes
    assert (attributes["engine"], attributes["engine_version"], attributes["instance_class"]) == (
        "postgres", "16.3", "db.t4g.medium")
    assert (attributes["status"], attributes["allocated_storage_gib"], attributes["storage_type"]) == (
        "available", 50, "gp3")
    assert (attributes["storage_encrypted"], attributes["multi_az"], attributes["publicly_accessible"]) == (
        True, True, True)
    assert (attributes["backup_retention_days"], attributes["deletion_protection"]) == (7, True)
    assert attributes["endpoint"] and attributes["created"].endswith("+00:00")
    assert b"never-published-9" not in b"".join(obs.to_bytes() for obs in run.sink.observations)
    assert run.report.calls_by_type() == {"rds.instance": 1}


@covers("rds.cluster")
async def test_aurora_cluster_with_its_members(scan, boto):
    rds = boto("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="ledger", Engine="aurora-postgresql", EngineVersion="15.4", MasterUsername="admin",
        MasterUserPassword="never-published-9", StorageEncrypted=True, DeletionProtection=True,
        BackupRetentionPeriod=14, Tags=[{"Key": "team", "Value": "ledger"}],
    )
    rds.create_db_instance(DBInstanceIdentifier="ledger-1", DBClusterIdentifier="ledger",
                           Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")

    run = await scan([registry.get("rds.cluster")])

    [cluster] = run.resources("rds.cluster")
    assert cluster.uid == f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:ledger"
    assert (cluster.type, cluster.id, cluster.tags) == ("rds.cluster", "ledger", {"team": "ledger"})
    attributes = cluster.attributes
    assert (attributes["engine"], attributes["engine_version"], attributes["status"]) == (
        "aurora-postgresql", "15.4", "available")
    assert (attributes["storage_encrypted"], attributes["deletion_protection"], attributes["backup_retention_days"]) \
        == (True, True, 14)
    assert attributes["members"] == [{"instance": "ledger-1", "writer": True}]
    assert attributes["endpoint"] and attributes["created"].endswith("+00:00")
    assert run.report.calls_by_type() == {"rds.cluster": 1}


@covers("dynamodb.table")
async def test_dynamodb_table(scan, boto):
    dynamodb = boto("dynamodb")
    arn = dynamodb.create_table(
        TableName="orders", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        SSESpecification={"Enabled": True, "SSEType": "KMS"}, Tags=[{"Key": "team", "Value": "orders"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["TableArn"]
    dynamodb.update_continuous_backups(TableName="orders",
                                       PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    dynamodb.create_table(TableName="plain", ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 2},
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])

    run = await scan([registry.get("dynamodb.table")])

    tables = {r.id: r for r in run.resources("dynamodb.table")}
    orders = tables["orders"]
    assert orders.uid == arn == f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"
    assert (orders.type, orders.name, orders.tags) == ("dynamodb.table", "orders", {"team": "orders"})
    attributes = orders.attributes
    assert (attributes["status"], attributes["billing_mode"], attributes["point_in_time_recovery"]) == (
        "ACTIVE", "PAY_PER_REQUEST", "ENABLED")
    assert attributes["key_schema"] == [{"attribute": "pk", "key": "HASH"}, {"attribute": "sk", "key": "RANGE"}]
    assert (attributes["stream"], attributes["encryption"]["type"]) == ("NEW_IMAGE", "KMS")
    plain = tables["plain"].attributes
    assert (plain["billing_mode"], plain["read_capacity"], plain["write_capacity"]) == ("PROVISIONED", 5, 2)
    assert (plain["stream"], plain["encryption"], plain["point_in_time_recovery"]) == (None, None, "DISABLED")
    assert tables["plain"].tags == {}
    # list; per table: describe, tags, continuous backups
    assert run.report.calls_by_type() == {"dynamodb.table": 1 + 2 * 2}  # tags in bulk (shared_calls)


@covers("elasticache.cluster")
async def test_elasticache_cluster(scan, boto):
    elasticache = boto("elasticache")
    arn = elasticache.create_cache_cluster(
        CacheClusterId="sessions", Engine="redis", EngineVersion="7.1", CacheNodeType="cache.t4g.small",
        NumCacheNodes=1, Tags=[{"Key": "team", "Value": "web"}],
    )["CacheCluster"]["ARN"]

    run = await scan([registry.get("elasticache.cluster")])

    [cluster] = run.resources("elasticache.cluster")
    assert cluster.uid == arn == f"arn:aws:elasticache:us-east-1:{ACCOUNT}:cluster:sessions"
    assert (cluster.type, cluster.id, cluster.name, cluster.tags) == (
        "elasticache.cluster", "sessions", "sessions", {"team": "web"})
    attributes = cluster.attributes
    assert (attributes["engine"], attributes["engine_version"], attributes["node_type"], attributes["nodes"]) == (
        "redis", "7.1", "cache.t4g.small", 1)
    assert attributes["status"] == "available" and attributes["created"].endswith("+00:00")
    assert run.report.calls_by_type() == {"elasticache.cluster": 1 + 1}  # list; tags per cluster
