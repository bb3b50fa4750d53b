#!/usr/bin/env bash
# Run a real single-node Apache Kafka broker (KRaft, broker+controller in one
# JVM) without Docker, from Maven Central jars. For tests and local development.
#
#   kafka.sh fetch | start [--fresh] | stop | status | logs [tail args]
#   kafka.sh acls <kafka-acls args>   (kafka-acls against this broker, as KAFKA_ADMIN_USER)
#
# Environment (defaults in brackets):
#   KAFKA_VERSION [3.9.1]  KAFKA_PORT [9092]  KAFKA_CONTROLLER_PORT [9093]
#   KAFKA_HEAP [-Xms256m -Xmx1g]  KAFKA_OPTS [extra JVM flags]  KAFKA_FRESH [0]
#   KAFKA_START_TIMEOUT [90]  KAFKA_STOP_TIMEOUT [30]  (seconds)
#   ELAVA_KAFKA_HOME [~/.cache/elava/kafka]      jars, one dir per version
#   ELAVA_KAFKA_RUN  [~/.cache/elava/kafka-run]  data/logs/pid, one dir per port
# Security (see docs/operations.md, Kafka security):
#   KAFKA_SECURITY [plaintext]  plaintext | sasl_ssl (SASL_SSL on KAFKA_PORT, no PLAINTEXT)
#                  | both (PLAINTEXT on KAFKA_PORT, SASL_SSL on KAFKA_SASL_SSL_PORT [9094])
#   KAFKA_ADMIN_USER [admin] KAFKA_ADMIN_PASSWORD  the broker's own (super) user
#   KAFKA_SCRAM_USERS ["name:password ..."]  SCRAM-SHA-256/512 users made at format time
#   KAFKA_SSL_CA (PEM) and KAFKA_SSL_CERT + KAFKA_SSL_KEY [+ KAFKA_SSL_KEY_PASSWORD] (PEM),
#     or KAFKA_SSL_KEYSTORE (.p12 or .jks) + KAFKA_SSL_KEYSTORE_PASSWORD
#   KAFKA_SSL_CLIENT_AUTH [none]  required: clients must present a certificate
#   KAFKA_ACLS [0]  1: StandardAuthorizer on; no matching ACL = denied
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${KAFKA_HEAP:--Xms256m -Xmx1g}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_FRESH="${KAFKA_FRESH:-0}"
KAFKA_SECURITY="${KAFKA_SECURITY:-plaintext}"
KAFKA_SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-9094}"
KAFKA_ADMIN_USER="${KAFKA_ADMIN_USER:-admin}"
KAFKA_SSL_CLIENT_AUTH="${KAFKA_SSL_CLIENT_AUTH:-none}"
KAFKA_ACLS="${KAFKA_ACLS:-0}"

HOME_DIR="${ELAVA_KAFKA_HOME:-$HOME/.cache/elava/kafka}/$KAFKA_VERSION"
LIB_DIR="$HOME_DIR/lib"
MARKER="$HOME_DIR/.complete"
# Keyed by port, not version, so several brokers can run side by side.
RUN_DIR="${ELAVA_KAFKA_RUN:-$HOME/.cache/elava/kafka-run}/$KAFKA_PORT"
DATA_DIR="$RUN_DIR/data"
CONF="$RUN_DIR/server.properties"
ADMIN_CONF="$RUN_DIR/admin.properties"  # client settings of KAFKA_ADMIN_USER, for `acls`
PID_FILE="$RUN_DIR/kafka.pid"
LOG_FILE="$RUN_DIR/logs/server.log"
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
# Maven 3.8 would otherwise pick maven-dependency-plugin 2.8 (from 2013).
DEP_PLUGIN_VERSION="3.8.1"
# KAFKA_HEAP/KAFKA_OPTS hold several flags each: word splitting is intended.
# 3.x logs via reload4j, 4.x via log4j2; passing both configs avoids a branch.
# shellcheck disable=SC2206
JVM_FLAGS=($KAFKA_HEAP ${KAFKA_OPTS:-} -XX:+UseG1GC -Djava.awt.headless=true
  "-Dlog4j.configuration=file:$RUN_DIR/log4j.properties"
  "-Dlog4j2.configurationFile=$RUN_DIR/log4j2.properties")

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }
fail() { tail -n 50 "$LOG_FILE" >&2; die "$* (log: $LOG_FILE)"; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH; $2"; }
need_java() { need java "install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)"; }

# --- fetch: resolve the broker's runtime classpath with Maven ----------------
# $1 = dir, $2 = optional "group:artifact:version" (the logging binding).
write_pom() {
  local extra="" g a v
  if [[ -n "${2:-}" ]]; then
    IFS=: read -r g a v <<<"$2"
    extra="<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
  fi
  cat >"$1/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>dev.elava</groupId><artifactId>kafka-runtime</artifactId>
  <version>$KAFKA_VERSION</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    $extra
  </dependencies>
  <build><pluginManagement><plugins><plugin><groupId>org.apache.maven.plugins</groupId>
    <artifactId>maven-dependency-plugin</artifactId><version>$DEP_PLUGIN_VERSION</version>
  </plugin></plugins></pluginManagement></build>
</project>
EOF
}

# -U: retry artifacts a failed earlier attempt marked missing in ~/.m2.
mvn_copy() {
  rm -rf "${1:?}/lib"
  mvn -q -B -U -Dstyle.color=never -f "$1/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$1/lib" >>"$1/maven.log" 2>&1 && return 0
  # (sed strips the colour codes Debian's Maven 3.8 emits even with -B.)
  tail -n 30 "$1/maven.log" | sed $'s/\033\\[[0-9;]*m//g' >&2 && rm -rf "$1"
  die "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
}

# $1 = lib dir, $2 = artifact: prints the version of the copied jar, if any.
jar_version() {
  local f
  for f in "$1/$2"-[0-9]*.jar; do
    [[ -e "$f" ]] || continue
    f=${f##*/"$2"-} && echo "${f%.jar}" && return 0
  done
}

# Kafka's pom carries no logging backend. Match what it pulls in: 3.x has
# slf4j 1.7 only (-> slf4j-reload4j of the same version), 4.x also has
# log4j-core (-> the log4j2 bridge for that slf4j major, same log4j version).
pick_binding() {
  local slf4j log4j2
  slf4j=$(jar_version "$1" slf4j-api) log4j2=$(jar_version "$1" log4j-core)
  [[ -n "$slf4j" ]] || die "no slf4j-api among Kafka's dependencies; cannot pick a logging binding"
  if [[ -z "$log4j2" ]]; then echo "org.slf4j:slf4j-reload4j:$slf4j"
  elif [[ "$slf4j" == 1.* ]]; then echo "org.apache.logging.log4j:log4j-slf4j-impl:$log4j2"
  else echo "org.apache.logging.log4j:log4j-slf4j2-impl:$log4j2"; fi
}

cmd_fetch() {
  [[ -f "$MARKER" ]] && return 0  # warm cache: no Maven at all
  need mvn "install Maven 3 (e.g. apt-get install maven, or brew install maven)"
  need_java
  mkdir -p "$(dirname "$HOME_DIR")"
  # Build in a sibling temp dir and move it into place, so an interrupted
  # fetch never leaves a half-filled lib/ behind that looks complete.
  local tmp binding start=$SECONDS
  tmp=$(mktemp -d "$HOME_DIR.tmp.XXXXXX")
  log "resolving Kafka $KAFKA_VERSION with Maven into $HOME_DIR"
  write_pom "$tmp" && mvn_copy "$tmp"             # pass 1: learn the logging API
  binding=$(pick_binding "$tmp/lib")
  write_pom "$tmp" "$binding" && mvn_copy "$tmp"  # pass 2: the full classpath
  echo "org.apache.kafka:kafka_2.13:$KAFKA_VERSION $binding" >"$tmp/.complete"
  if [[ -f "$MARKER" ]]; then rm -rf "$tmp"      # a concurrent fetch won the race
  else rm -rf "$HOME_DIR" && mv "$tmp" "$HOME_DIR"; fi
  log "fetched Kafka $KAFKA_VERSION + $binding in $((SECONDS - start))s"
}

# --- configuration -----------------------------------------------------------
write_configs() {
  mkdir -p "$DATA_DIR" "$(dirname "$LOG_FILE")"
  chmod 700 "$RUN_DIR"  # server.properties may hold passwords
  # One node on a small (2-core) machine: every replication factor and ISR is
  # 1, few threads, few internal partitions so the first group join is quick.
  # The share.* keys are 4.x-only (3.9 just warns that they are unknown).
  cat >"$CONF" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
$(listener_configs)
log.dirs=$DATA_DIR
num.network.threads=2
num.io.threads=2
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
# Elava's changelogs are compacted topics, so the cleaner must run; a 32 MiB
# dedupe buffer (default 128 MiB) suits the small heap.
log.cleaner.enable=true
log.cleaner.dedupe.buffer.size=33554432
EOF
  # Console only (nohup sends it to one file). Config dumps and per-request
  # logs are silenced: they are ~90% of the output and server.properties is here.
  local quiet="kafka.request.logger state.change.logger kafka.server.KafkaConfig org.apache.kafka.common.config.AbstractConfig"
  local l pattern='[%d] %p %m (%c)%n'
  { printf '%s\n' "log4j.rootLogger=INFO, out" "log4j.appender.out=org.apache.log4j.ConsoleAppender" \
      "log4j.appender.out.layout=org.apache.log4j.PatternLayout" \
      "log4j.appender.out.layout.ConversionPattern=$pattern"
    for l in $quiet; do echo "log4j.logger.$l=WARN"; done; } >"$RUN_DIR/log4j.properties"
  { printf '%s\n' "appender.out.type=Console" "appender.out.name=OUT" "appender.out.layout.type=PatternLayout" \
      "appender.out.layout.pattern=$pattern" "rootLogger.level=INFO" "rootLogger.appenderRef.out.ref=OUT"
    for l in $quiet; do printf '%s\n' "logger.${l//./_}.name=$l" "logger.${l//./_}.level=WARN"; done
  } >"$RUN_DIR/log4j2.properties"
}

listener_configs() {
  local plain="PLAINTEXT://127.0.0.1:$KAFKA_PORT" sasl="SASL_SSL://127.0.0.1" listeners
  case "$KAFKA_SECURITY" in
    plaintext) listeners=$plain ;;
    sasl_ssl) listeners="$sasl:$KAFKA_PORT" ;;
    both) listeners="$plain,$sasl:$KAFKA_SASL_SSL_PORT" ;;
  esac
  printf '%s\n' "listeners=$listeners,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT" \
    "advertised.listeners=$listeners" "controller.listener.names=CONTROLLER"
  if ! secure; then
    printf '%s\n' "inter.broker.listener.name=PLAINTEXT" "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    return 0
  fi
  # The broker talks to itself over SASL_SSL when that is its only listener.
  echo "inter.broker.listener.name=$([[ $KAFKA_SECURITY == both ]] && echo PLAINTEXT || echo SASL_SSL)"
  echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT"
  security_configs
}

# --- security ----------------------------------------------------------------
secure() { [[ "$KAFKA_SECURITY" != plaintext ]]; }
sasl_port() { if [[ "$KAFKA_SECURITY" == both ]]; then echo "$KAFKA_SASL_SSL_PORT"; else echo "$KAFKA_PORT"; fi; }
scram_users() { echo "$KAFKA_ADMIN_USER:$KAFKA_ADMIN_PASSWORD" ${KAFKA_SCRAM_USERS:-}; }

check_security() {
  case "$KAFKA_SECURITY" in plaintext | sasl_ssl | both) ;;
    *) die "KAFKA_SECURITY must be plaintext, sasl_ssl or both, not '$KAFKA_SECURITY'" ;; esac
  if ! secure; then
    [[ "$KAFKA_ACLS" != 1 ]] || die "KAFKA_ACLS=1 needs authenticated clients: set KAFKA_SECURITY=sasl_ssl or both"
    return 0
  fi
  [[ -n "${KAFKA_ADMIN_PASSWORD:-}" ]] || die "KAFKA_SECURITY=$KAFKA_SECURITY needs KAFKA_ADMIN_PASSWORD"
  [[ -r "${KAFKA_SSL_CA:-}" ]] || die "KAFKA_SSL_CA must name a readable PEM file of the CA(s) to trust"
  if [[ -n "${KAFKA_SSL_KEYSTORE:-}" ]]; then
    [[ -r "$KAFKA_SSL_KEYSTORE" ]] || die "KAFKA_SSL_KEYSTORE: cannot read $KAFKA_SSL_KEYSTORE"
    [[ -n "${KAFKA_SSL_KEYSTORE_PASSWORD:-}" ]] || die "KAFKA_SSL_KEYSTORE needs KAFKA_SSL_KEYSTORE_PASSWORD"
  elif [[ ! -r "${KAFKA_SSL_CERT:-}" || ! -r "${KAFKA_SSL_KEY:-}" ]]; then
    die "set KAFKA_SSL_CERT and KAFKA_SSL_KEY (PEM files), or KAFKA_SSL_KEYSTORE"
  fi
  case "$KAFKA_SSL_CLIENT_AUTH" in none | requested | required) ;;
    *) die "KAFKA_SSL_CLIENT_AUTH must be none, requested or required" ;; esac
  local user users pattern='^[A-Za-z0-9._-]+:[^][,="\\[:space:]]+$'
  read -ra users <<<"$(scram_users)"
  for user in "${users[@]}"; do
    # Never echo the password: only the name goes into the message.
    [[ "$user" =~ $pattern ]] || die "SCRAM user '${user%%:*}': use name:password, without spaces, commas, quotes, '=', '\\' or brackets"
  done
}

security_configs() {
  local scram="org.apache.kafka.common.security.scram.ScramLoginModule required" \
    plain="org.apache.kafka.common.security.plain.PlainLoginModule required" \
    me="username=\"$KAFKA_ADMIN_USER\" password=\"$KAFKA_ADMIN_PASSWORD\""
  # KRaft keeps SCRAM credentials in the metadata log, which the controller has to serve
  # first: the broker logs in to the controller (loopback only) with PLAIN instead.
  printf '%s\n' "sasl.mechanism.controller.protocol=PLAIN" \
    "listener.name.controller.sasl.enabled.mechanisms=PLAIN" \
    "listener.name.controller.plain.sasl.jaas.config=$plain $me user_$KAFKA_ADMIN_USER=\"$KAFKA_ADMIN_PASSWORD\";" \
    "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512" \
    "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512" \
    "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$scram $me;" \
    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$scram $me;" \
    "listener.name.sasl_ssl.ssl.client.auth=$KAFKA_SSL_CLIENT_AUTH" \
    "ssl.truststore.type=PEM" "ssl.truststore.location=$KAFKA_SSL_CA"
  keystore_configs
  if [[ "$KAFKA_ACLS" == 1 ]]; then
    printf '%s\n' "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" \
      "super.users=User:$KAFKA_ADMIN_USER" "allow.everyone.if.no.acl.found=false"
  fi
}

keystore_configs() {
  if [[ -n "${KAFKA_SSL_KEYSTORE:-}" ]]; then
    printf '%s\n' "ssl.keystore.type=$([[ "$KAFKA_SSL_KEYSTORE" == *.jks ]] && echo JKS || echo PKCS12)" \
      "ssl.keystore.location=$KAFKA_SSL_KEYSTORE" "ssl.keystore.password=$KAFKA_SSL_KEYSTORE_PASSWORD" \
      "ssl.key.password=${KAFKA_SSL_KEY_PASSWORD:-$KAFKA_SSL_KEYSTORE_PASSWORD}"
    return 0
  fi
  # Kafka's PEM keystore is one file: the private key (PKCS#8), then the certificate chain.
  (umask 077 && cat "$KAFKA_SSL_KEY" "$KAFKA_SSL_CERT" >"$RUN_DIR/keystore.pem")
  printf '%s\n' "ssl.keystore.type=PEM" "ssl.keystore.location=$RUN_DIR/keystore.pem"
  [[ -z "${KAFKA_SSL_KEY_PASSWORD:-}" ]] || echo "ssl.key.password=$KAFKA_SSL_KEY_PASSWORD"
}

# The format-time SCRAM credentials: each user gets both SCRAM mechanisms.
scram_args() {
  local user users mechanism
  secure || return 0
  read -ra users <<<"$(scram_users)"
  for user in "${users[@]}"; do
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
      echo "--add-scram=$mechanism=[name=${user%%:*},password=${user#*:}]"
    done
  done
}

# Client settings of the admin user, for `kafka.sh acls` (kafka-acls --command-config).
write_admin_conf() {
  rm -f "$ADMIN_CONF"
  secure || return 0
  (umask 077 && {
    printf '%s\n' "security.protocol=SASL_SSL" "sasl.mechanism=SCRAM-SHA-512" \
      "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$KAFKA_ADMIN_USER\" password=\"$KAFKA_ADMIN_PASSWORD\";" \
      "ssl.truststore.type=PEM" "ssl.truststore.location=$KAFKA_SSL_CA"
    # With client authentication on, the admin shows the broker's own certificate.
    [[ "$KAFKA_SSL_CLIENT_AUTH" == none ]] || keystore_configs
  } >"$ADMIN_CONF")
  echo "127.0.0.1:$(sasl_port)" >"$RUN_DIR/sasl_ssl_bootstrap"
}

# kafka-acls lives in Kafka's core on 3.x and in the separate kafka-tools artifact on 4.x.
fetch_tools() {
  local dir="$HOME_DIR/tools" tmp
  [[ -f "$dir/.complete" ]] && return 0
  need mvn "install Maven 3 (e.g. apt-get install maven, or brew install maven)"
  tmp=$(mktemp -d "$HOME_DIR/tools.tmp.XXXXXX")
  log "resolving kafka-tools $KAFKA_VERSION with Maven"
  write_pom "$tmp" "org.apache.kafka:kafka-tools:$KAFKA_VERSION" && mvn_copy "$tmp"
  touch "$tmp/.complete"
  if [[ -f "$dir/.complete" ]]; then rm -rf "$tmp"; else rm -rf "$dir" && mv "$tmp" "$dir"; fi
}

cmd_acls() {
  [[ -f "$ADMIN_CONF" ]] || die "no SASL_SSL broker was started on port $KAFKA_PORT (KAFKA_SECURITY=sasl_ssl or both)"
  need_java
  cmd_fetch
  local main=kafka.admin.AclCommand cp="$LIB_DIR/*"
  if (("${KAFKA_VERSION%%.*}" >= 4)); then
    fetch_tools && main=org.apache.kafka.tools.AclCommand cp="$HOME_DIR/tools/lib/*:$LIB_DIR/*"
  fi
  # The tool's own logging: warnings only, on stderr.
  printf '%s\n' "log4j.rootLogger=WARN, err" "log4j.appender.err=org.apache.log4j.ConsoleAppender" \
    "log4j.appender.err.target=System.err" "log4j.appender.err.layout=org.apache.log4j.SimpleLayout" \
    >"$RUN_DIR/tools-log4j.properties"
  printf '%s\n' "appender.err.type=Console" "appender.err.name=ERR" "appender.err.target=SYSTEM_ERR" \
    "appender.err.layout.type=PatternLayout" "rootLogger.level=WARN" "rootLogger.appenderRef.err.ref=ERR" \
    >"$RUN_DIR/tools-log4j2.properties"
  java -Xmx256m "-Dlog4j.configuration=file:$RUN_DIR/tools-log4j.properties" \
    "-Dlog4j2.configurationFile=$RUN_DIR/tools-log4j2.properties" -cp "$cp" "$main" \
    --bootstrap-server "$(<"$RUN_DIR/sasl_ssl_bootstrap")" --command-config "$ADMIN_CONF" "$@"
}

# --- process control ---------------------------------------------------------
run_java() { java "${JVM_FLAGS[@]}" -cp "$LIB_DIR/*" "$@"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the pid if our broker is alive. Checks the command line too, so a
# recycled pid left in a stale pid file is not mistaken for the broker.
running_pid() {
  local pid
  [[ -f "$PID_FILE" ]] && pid=$(<"$PID_FILE") && [[ -n "$pid" ]] || return 1
  ps -p "$pid" -o args= 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

format_storage() {
  [[ -f "$DATA_DIR/meta.properties" ]] && return 0
  # Static controller.quorum.voters + plain `format` works on both 3.9 and
  # 4.x; --standalone would need the dynamic-quorum settings instead.
  # `--cluster-id=` keeps an id that starts with "-" from parsing as a flag.
  local id
  id=$(run_java kafka.tools.StorageTool random-uuid 2>>"$LOG_FILE" | tail -n1) || true
  [[ -n "$id" ]] || fail "could not generate a cluster id"
  local scram=()
  mapfile -t scram < <(scram_args)
  run_java kafka.tools.StorageTool format --cluster-id="$id" --config="$CONF" ${scram[@]+"${scram[@]}"} \
    >>"$LOG_FILE" 2>&1 || fail "formatting KRaft storage failed"
}

wait_ready() {
  local pid=$1 deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  until port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$LOG_FILE"; do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; fail "Kafka exited during startup"; }
    if ((SECONDS >= deadline)); then
      # Don't leave a half-started broker behind for the next `start` to reuse.
      cmd_stop
      fail "Kafka not ready after ${KAFKA_START_TIMEOUT}s; stopped it"
    fi
    sleep 0.5
  done
}

cmd_start() {
  local pid p start=$SECONDS
  if pid=$(running_pid); then
    # Tests ask for fresh data; a leftover broker would hand them old topics.
    if [[ "$KAFKA_FRESH" == 1 ]]; then cmd_stop
    else log "already running (pid $pid)"; echo "$BOOTSTRAP"; return 0; fi
  fi
  need_java
  check_security
  cmd_fetch
  local ports=("$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT")
  [[ "$KAFKA_SECURITY" != both ]] || ports+=("$KAFKA_SASL_SSL_PORT")
  for p in "${ports[@]}"; do
    ! port_open "$p" || die "port $p is already in use by another process"
  done
  [[ "$KAFKA_FRESH" != 1 ]] || rm -rf "$DATA_DIR"
  write_configs
  write_admin_conf
  # Keep the previous run's log for post-mortems; readiness greps only this one.
  [[ ! -f "$LOG_FILE" ]] || mv -f "$LOG_FILE" "$LOG_FILE.1"
  : >"$LOG_FILE"
  format_storage
  # A plain `nohup cmd &` (no subshell): $! is the JVM itself, which ignores
  # SIGHUP and outlives this script and its terminal.
  nohup java "${JVM_FLAGS[@]}" -cp "$LIB_DIR/*" kafka.Kafka "$CONF" >>"$LOG_FILE" 2>&1 </dev/null &
  pid=$! && echo "$pid" >"$PID_FILE" && echo "$KAFKA_VERSION" >"$RUN_DIR/version"
  wait_ready "$pid"
  log "Kafka $KAFKA_VERSION ready in $((SECONDS - start))s (pid $pid, log $LOG_FILE)"
  echo "$BOOTSTRAP"
}

cmd_stop() {
  local pid deadline
  if ! pid=$(running_pid); then rm -f "$PID_FILE"; log "not running"; return 0; fi
  # SIGTERM runs Kafka's controlled shutdown (flushes logs, writes the clean
  # shutdown marker, so the next start skips log recovery).
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$PID_FILE" && log "stopped (pid $pid)"
}

cmd_status() {
  local pid
  pid=$(running_pid) || { echo "not running (port $KAFKA_PORT)"; return 3; }
  echo "running pid=$pid bootstrap=$BOOTSTRAP version=$(cat "$RUN_DIR/version" 2>/dev/null || echo '?')"
}

cmd_logs() {
  [[ -f "$LOG_FILE" ]] || die "no log yet at $LOG_FILE"
  if (($#)); then tail "$@" "$LOG_FILE"; else tail -n 100 -F "$LOG_FILE"; fi
}

main() {
  local cmd=${1:-} args=() a
  shift || true
  for a in "$@"; do
    if [[ "$a" == --fresh ]]; then KAFKA_FRESH=1; else args+=("$a"); fi
  done
  case "$cmd" in
    fetch | start | stop | status) "cmd_$cmd" ;;
    acls) cmd_acls ${args[@]+"${args[@]}"} ;;
    logs) cmd_logs ${args[@]+"${args[@]}"} ;;
    *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}

main "$@"
