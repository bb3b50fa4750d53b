"""userIdentity -> Actor, for every identity type, from records as CloudTrail writes them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.cloudtrail.normalize.identity import IDENTITY_TYPES, actor_from_record, role_session
from collectors.cloudtrail.normalize.sessions import look_at_session, looks_like_ci
from elava.user_agents import tool_of
from tests.unit.collectors.cloudtrail.normalize.trail_fixtures import RECORDS, identity

SSO_POWER = "AWSReservedSSO_PowerUserAccess_8a3c1e2f0b9d7c64"
CDK_ROLE = "cdk-hnb659fds-cfn-exec-role-111122223333-eu-west-1"

# fixture -> (type, name, role, kind, via)
EXPECTED = {
    "iam-user-console": ("IAMUser", "alice", None, "human", "console"),
    "iam-user-cli-path": ("IAMUser", "bob", None, "human", "cli"),
    "iam-user-ci": ("IAMUser", "github-deployer", None, "automation", "cli"),
    "sso-console-email": ("AssumedRole", "alice@example.com", SSO_POWER, "human", "console"),
    # "Deploy" in a permission set does not make its people CI jobs.
    "sso-cli-username": ("AssumedRole", "carol", "AWSReservedSSO_DeployAccess_1f2e3d4c5b6a7980", "human", "cli"),
    "role-person-cli": ("AssumedRole", "dave", "Admin", "human", "cli"),
    "source-identity": ("AssumedRole", "judy@example.com", "Admin", "human", "cli"),
    "session-go-sdk": ("AssumedRole", "reporting", "reporting", "automation", "sdk"),
    "session-botocore": ("AssumedRole", "nightly-cleanup", "nightly-cleanup", "automation", "sdk"),
    "session-ec2-instance-cli": ("AssumedRole", "web-instance-role", "web-instance-role", "automation", "cli"),
    "session-ec2-instance-sdk": ("AssumedRole", "web-instance-role", "web-instance-role", "automation", "ec2"),
    "session-lambda": ("AssumedRole", "orders-api-role-x1y2z3w4", "orders-api-role-x1y2z3w4", "automation", "lambda"),
    "session-ecs-task": ("AssumedRole", "frontend-task-role", "frontend-task-role", "automation", "ecs"),
    "session-codebuild": ("AssumedRole", "codebuild-web-service-role", "codebuild-web-service-role", "automation",
                          "cli"),
    "github-actions": ("AssumedRole", "github-deploy", "github-deploy", "automation", "cli"),
    "ci-role-person-like-session": ("AssumedRole", "release-train", "github-deploy", "automation", "cli"),
    "ci-session-jenkins": ("AssumedRole", "platform-automation", "platform-automation", "automation", "cli"),
    "terraform-person": ("AssumedRole", "alice@example.com", SSO_POWER, "automation", "terraform"),
    "terraform-ci-role": ("AssumedRole", "terraform-apply", "terraform-apply", "automation", "terraform"),
    "opentofu": ("AssumedRole", "dave", "Admin", "automation", "opentofu"),
    "pulumi": ("IAMUser", "erin", None, "automation", "pulumi"),
    "cloudformation-service-role": ("AssumedRole", "orders-stack-cfn-role", "orders-stack-cfn-role", "automation",
                                    "cloudformation"),
    "cloudformation-on-behalf": ("AssumedRole", "alice@example.com", SSO_POWER, "automation", "cloudformation"),
    "cdk-execution-role": ("AssumedRole", CDK_ROLE, CDK_ROLE, "automation", "cdk"),
    "cdk-toolkit": ("AssumedRole", "alice@example.com", SSO_POWER, "automation", "cdk"),
    "aws-service-autoscaling": ("AWSService", "autoscaling.amazonaws.com", None, "service", "autoscaling"),
    "service-linked-autoscaling": ("AssumedRole", "AWSServiceRoleForAutoScaling", "AWSServiceRoleForAutoScaling",
                                   "service", "autoscaling"),
    "service-linked-eks": ("AssumedRole", "AWSServiceRoleForAmazonEKS", "AWSServiceRoleForAmazonEKS", "service",
                           "eks"),
    "service-linked-ecs": ("AssumedRole", "AWSServiceRoleForECS", "AWSServiceRoleForECS", "service", "ecs"),
    "root-console": ("Root", "root", None, "human", "console"),
    # A person acting through the console, said by invokedBy alone: human, not the service "signin".
    "iam-user-invoked-by-signin": ("IAMUser", "alice", None, "human", "console"),
    "root-invoked-by-console": ("Root", "root", None, "human", "console"),
    "role-person-invoked-by-signin": ("AssumedRole", "dave", "Admin", "human", "console"),
    "federated-user": ("FederatedUser", "frank", None, "human", "cli"),
    "aws-account": ("AWSAccount", "444455556666", None, "unknown", "cli"),
    "anonymous-s3": ("AWSAccount", "anonymous", None, "unknown", None),
    "identity-center-signin": ("IdentityCenterUser", "grace", None, "human", "console"),
    "identity-center-user-id": ("IdentityCenterUser", "94d00cd8-e9e6-4810-b177-b08e84775435", None, "human", "cli"),
    "saml-user": ("SAMLUser", "henry@example.com", None, "human", "console"),
    "web-identity-github": ("WebIdentityUser", "repo:acme/web:ref:refs/heads/main", None, "automation", "sdk"),
    "web-identity-google": ("WebIdentityUser", "108625555555555555555", None, "human", None),
    "unknown-type": ("Unknown", "ivan", None, "unknown", "cli"),
    "never-seen-type": ("QuantumUser", "QID-1", None, "unknown", None),
    "missing-identity": ("Unknown", None, None, "unknown", None),
}


def test_every_identity_fixture_has_its_expectation():
    assert {path.stem for path in (RECORDS / "identities").glob("*.json")} == set(EXPECTED)


def test_every_identity_type_aws_documents_is_exercised():
    exercised = {identity(name).get("userIdentity", {}).get("type") for name in EXPECTED}
    assert set(IDENTITY_TYPES) - {"Role"} <= exercised  # "Role" is rare: see the unit test below


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_actor_of_each_kind_of_caller(fixture):
    actor = actor_from_record(identity(fixture))
    assert (actor.type, actor.name, actor.role, actor.kind, actor.via) == EXPECTED[fixture]


def test_actor_keeps_the_arn_source_ip_and_user_agent():
    record = identity("sso-console-email")
    actor = actor_from_record(record)
    assert actor.arn == record["userIdentity"]["arn"]
    assert actor.source_ip == "203.0.113.24" and actor.user_agent.startswith("Mozilla/5.0")


def test_aws_service_has_no_arn_and_its_source_is_the_service():
    actor = actor_from_record(identity("aws-service-autoscaling"))
    assert actor.arn is None and actor.source_ip == "autoscaling.amazonaws.com"


def test_role_identity_type_names_the_role():
    record = {"userIdentity": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/ops/batch-runner"},
              "userAgent": "aws-cli/2.15.30"}
    actor = actor_from_record(record)
    assert (actor.name, actor.role, actor.kind, actor.via) == ("batch-runner", "batch-runner", "automation", "cli")


def test_role_session_falls_back_to_the_issuer_and_the_principal_id():
    identity_only_ids = {"type": "AssumedRole", "principalId": "AROAEXAMPLE:alice",
                         "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/team/Admin"}}}
    assert role_session(identity_only_ids) == ("Admin", "alice")
    assert role_session({"arn": "arn:aws:sts::1:assumed-role/Admin/bob"}) == ("Admin", "bob")
    assert role_session({}) == (None, None)


def test_lambda_session_is_known_by_its_role_name_when_the_agent_does_not_say():
    record = {"userIdentity": {"type": "AssumedRole",
                               "arn": "arn:aws:sts::1:assumed-role/resize-images-role-8k2j3h4g/resize-images"},
              "userAgent": "aws-sdk-nodejs/2.1550.0 linux/v20.11.0 promise"}
    actor = actor_from_record(record)
    assert (actor.name, actor.kind, actor.via) == ("resize-images-role-8k2j3h4g", "automation", "lambda")


@pytest.mark.parametrize("session, workload", [
    ("alice", None), ("alice@example.com", None), ("Alice.Smith", None), ("jdoe-admin", None),
    ("i-0a1b2c3d", "ec2"), ("i-0a1b2c3d4e5f60001", "ec2"),
    ("botocore-session-1762077871", "sdk"), ("aws-go-sdk-1762077871", "sdk"), ("aws-sdk-java-1762077871123", "sdk"),
    ("aws-sdk-js-1762077871123", "sdk"), ("Boto3Session", "sdk"),
    ("7b3f5a1c9e2d4f6a8b0c1d2e3f4a5b6c", "ecs"), ("AWSCodeBuild-8c3a2e1f-0000-4c3e-9a37-1f6f0c6d2e11", "codebuild"),
    ("eks-platform-web-7d9f-4ac6a7b8-0000-4c3e-9a37-1f6f0c6d2e11", "eks"),
    ("GitHubActions", "github-actions"), ("gitlab-ci-job-1234", "ci"), ("atlantis", "ci"),
    ("AutoScaling", "aws-service"), ("AWSCloudFormation", "aws-service"), ("AWSBackup-Job", "aws-service"),
    ("session-1762077871", "machine"), ("9c8b7a6d-1111-2222-3333-444455556666", "machine"), ("", "unnamed"),
])
def test_machine_made_session_names(session, workload):
    assert look_at_session(session, "some-role", None).workload == workload


def test_an_email_session_is_a_person_whatever_else_it_contains():
    assert look_at_session("build-1762077871@example.com", "r", None).workload is None


@pytest.mark.parametrize("agent, via, kind", [
    ("signin.amazonaws.com", "console", "human"),
    ("console.ec2.amazonaws.com", "console", "human"),
    ("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/125.0", "console", "human"),
    ("aws-cli/1.32.84 Python/3.11.8 Linux/6.5.0 botocore/1.34.84", "cli", None),
    ("aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 exec-env/CloudShell", "cli", None),
    ("AWSPowerShell.Common/4.1.560.0 .NET_Core/6.0.29 PowerShellCore/7.4", "powershell", None),
    ("Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#5.10 Botocore/1.34.84", "sdk", "automation"),
    ("aws-sdk-java/2.25.31 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.10", "sdk", "automation"),
    ("aws-sdk-go/1.51.21 (go1.22.1; linux; amd64)", "sdk", "automation"),
    ("aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1", "sdk", "automation"),
    ("aws-sdk-js/3.552.0 ua/2.0 os/linux lang/js md/nodejs#20.12.1", "sdk", "automation"),
    ("APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.46.0", "terraform",
     "automation"),
    ("aws-sdk-go/1.44.122 (go1.19.3; linux; amd64) APN/1.0 HashiCorp/1.0 Terraform/1.3.6 (+https://www.terraform.io)",
     "terraform", "automation"),
    ("APN/1.0 Ansible/2.16.6 amazon.aws/7.5.0 Boto3/1.34.84", "ansible", "automation"),
    ("cloudformation.amazonaws.com", "cloudformation", "automation"),
    ("autoscaling.amazonaws.com", "autoscaling", "service"),
    ("elasticloadbalancing.amazonaws.com", "elasticloadbalancing", "service"),
    ("AWS Internal", None, None), ("curl/8.5.0", None, None), ("", None, None), (None, None, None),
])
def test_user_agents(agent, via, kind):
    tool = tool_of(agent, None)
    assert (tool.via, tool.kind) == (via, kind)


def test_the_console_as_invoker_is_a_person_only_for_identities_people_have():
    record = {"userIdentity": {"type": "AWSService", "invokedBy": "signin.amazonaws.com"}}
    assert actor_from_record(record).kind == "service"


def test_invoked_by_wins_over_the_agent_and_console_sessions_win_over_both():
    assert tool_of("aws-cli/2.15.30", "ecs.amazonaws.com").via == "ecs"
    assert tool_of("aws-cli/2.15.30", "AWS Internal").via == "cli"  # the console's back end says nothing
    assert tool_of("aws-cli/2.15.30", "ecs.amazonaws.com", from_console=True).via == "console"


@pytest.mark.parametrize("role, ci", [
    ("github-deploy", True), ("GitHubActionsDeploy", True), ("gitlab-runner", True), ("TerraformApply", True),
    ("ci-deployer", True), ("platform-automation", True), ("Admin", False), ("special-ops", False),
    ("Decider", False), (None, False),
])
def test_ci_looking_roles(role, ci):
    assert looks_like_ci(role) is ci


identity_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40),
                            st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=3))


@given(st.dictionaries(st.sampled_from(["type", "arn", "principalId", "userName", "invokedBy", "accountId",
                                        "sessionContext", "onBehalfOf", "identityProvider"]), identity_values),
       st.one_of(st.none(), st.text(max_size=60)))
def test_never_fails_on_odd_identities(user_identity, agent):
    user_identity.setdefault("type", "AssumedRole")
    actor = actor_from_record({"userIdentity": user_identity, "userAgent": agent})
    assert actor.kind in ("human", "service", "automation", "unknown")
