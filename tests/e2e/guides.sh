#!/usr/bin/env bash
# guides.sh — the full upgrade of each seed guide (samples/*-upgrade.mig,
# samples/kato-v2-rollout.mig) end to end against the PostgreSQL server of
# pg_virtualenv (`make check` runs under it; without a server this fails,
# nothing is skipped): one `migrun apply --allow-exec` per guide and one
# `migrun rollback` (KATO: one `rollback --to` per phase), with the real
# pg_dump, pg_restore and psql, and the stand-ins of tests/standins/ for
# systemctl, curl, kubectl, redis-cli and docker-compose. Each stand-in
# appends "NAME ARGS…" to $MIG_CALLS, so a case checks the database, the
# order of the steps and the order of the calls on apply, on rollback and
# on a failure that undoes the run.
DIALECT=postgres
. "$(dirname "$0")/lib.sh"
if ! psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1; then
    echo "FAIL: no PostgreSQL server reachable (PGHOST=${PGHOST:-unset}); run the tests with"
    echo "      pg_virtualenv -t make check, as ./dev.sh test does"
    echo "0 passed, 1 failed"
    exit 1
fi
S=$TOP_SRCDIR/samples
export PATH="$TOP_SRCDIR/tests/standins:$PATH"
unset MIG_CALLS MIG_FAIL MIG_FAIL_TIMES MIG_UNHEALTHY

# start_calls — each case records its stand-in calls in its own folder
start_calls() {
    export MIG_CALLS=$CASE_DIR/calls.log
    : >"$MIG_CALLS"
}

# calls_since N — the calls from line N on (1: all), one per line
calls_since() { tail -n +"$1" "$MIG_CALLS"; }
ncalls() { wc -l <"$MIG_CALLS"; }

# steps OUTCOME — phase.step of every step with that outcome in $OUT, in order
steps() {
    printf '%s\n' "$OUT" | awk -v o="$1" '$1 == o { print $2 }' | sed -E 's/^[a-z0-9_]+\.([a-z0-9_]+\.[a-z0-9_]+)$/\1/'
}

# same WHAT WANT GOT — a check that shows the difference
same() {
    if [ "$2" != "$3" ]; then
        echo "    check failed: $1"
        diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/      /' | head -40
        touch "$CASE_DIR/.failed"
    fi
}

# app_dump — the application's schema and data, mig's own tables left out
app_dump() {
    pg_dump --no-owner --no-privileges --exclude-table='mig_*' -d "$PGDB" |
        grep -v -e '^--' -e '^$' -e '^\\restrict' -e '^\\unrestrict'
}

tracked() { q "SELECT count(*) FROM mig_applied"; }

# allowed COMMAND [ARGS…] — migrun on the case's database, commands allowed
allowed() { "$MIGRUN" "$@" --db $URL --allow-exec; }
rollback() { allowed rollback "$@"; }

# ---- Keiko v2 (seed 000) ------------------------------------------------------

keiko_v1() {
    q "CREATE TABLE users (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), email VARCHAR(255) UNIQUE NOT NULL, name VARCHAR(255));
       CREATE TABLE agents (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), name VARCHAR(100) NOT NULL, type VARCHAR(50) NOT NULL);
       CREATE TABLE tasks (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), agent_id UUID REFERENCES agents(id),
                           title TEXT NOT NULL, created_at TIMESTAMP DEFAULT NOW());
       INSERT INTO users (email, name) VALUES ('ada@example.com', 'Ada'), ('bo@example.com', 'Bo');
       INSERT INTO agents (name, type) VALUES ('writer', 'nlp'), ('painter', 'image'), ('counter', 'data');
       INSERT INTO tasks (title, created_at) VALUES ('summarise the inbox', NOW() - INTERVAL '5 minutes'),
                                                   ('last week''s report', NOW() - INTERVAL '2 days');" >/dev/null
    mkdir -p backup www
}

keiko() {
    "$MIGRUN" "$@" --db $URL --allow-exec -p backup_dir="$CASE_DIR/backup" -p web_root="$CASE_DIR/www" \
        -p maintenance_page="$S/keiko-maintenance.html"
}

KEIKO_V1_UNITS="keiko-api keiko-workers keiko-scheduler"
KEIKO_V2_UNITS="keiko-api-v2 keiko-workers-v2 keiko-scheduler-v2"

g_keiko_upgrade_and_restore_rollback() {
    start_calls
    keiko_v1
    local before_schema before_data
    before_schema=$(schema)
    before_data=$(app_dump)

    # nothing runs without --allow-exec; plan shows the commands, runs none
    expect_exit 3 "$MIGRUN" apply "$S/keiko-v2-upgrade.mig" --db $URL
    check "apply without --allow-exec lists the commands" contains "pg_dump"
    expect_exit 0 "$MIGRUN" plan "$S/keiko-v2-upgrade.mig" --db $URL -p backup_dir="$CASE_DIR/backup"
    check "plan shows the rendered dump" contains "runs pg_dump --schema=public --dbname $PGDB --file $CASE_DIR/backup/keiko_db_v1.sql"
    check "nothing ran, nothing changed" test ! -s "$MIG_CALLS" -a ! -e backup/keiko_db_v1.sql -a "$(has_table mig_applied)" = 0

    expect_exit 0 keiko apply "$S/keiko-v2-upgrade.mig"
    same "the steps in the guide's order" "prepare.maintenance_on
prepare.stop_v1
prepare.backup
columns.users_role
columns.users_preferences
columns.users_last_login
columns.agents_capabilities
columns.agents_metadata
columns.agents_version
columns.tasks_priority
columns.tasks_timeout_seconds
columns.tasks_retry_count
tables.mcp_servers
tables.audit_logs
indexes.idx_users_role
indexes.idx_users_last_login
indexes.idx_agents_capabilities
indexes.idx_tasks_priority
indexes.idx_audit_logs_user_action
data.nlp_capabilities
data.image_capabilities
data.recent_tasks_high_priority
start.enable_v2
start.start_v2
reopen.maintenance_off" "$(steps applied)"
    same "the calls on apply: v1 stopped, v2 enabled, started, healthy" "systemctl disable --now $KEIKO_V1_UNITS
systemctl enable $KEIKO_V2_UNITS
systemctl start $KEIKO_V2_UNITS
curl -fsS --max-time 5 http://localhost:8000/health" "$(calls_since 1)"
    check "the dump was taken and is complete" grep -q '^-- PostgreSQL database dump complete' backup/keiko_db_v1.sql
    check "the dump holds the v1 users" grep -q 'ada@example.com' backup/keiko_db_v1.sql
    check "the maintenance page is gone again" test ! -e www/maintenance.html
    check "v2 columns" q "SELECT role, preferences, last_login FROM users WHERE false"
    check "GIN index" test "$(q "SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_agents_capabilities' AND indexdef LIKE '%USING gin%'")" = 1
    same "capabilities migrated" 'counter|[]
painter|["image_generation"]
writer|["text_processing"]' "$(q "SELECT name, capabilities FROM agents ORDER BY name")"
    same "recent tasks high" "last week's report|normal
summarise the inbox|high" "$(q "SELECT title, priority FROM tasks ORDER BY title")"

    expect_exit 0 "$MIGRUN" status "$S/keiko-v2-upgrade.mig" --db $URL
    check "status: the upgrade is applied" contains "applied  keiko_v2_upgrade"
    check "status: nothing pending or drifted" not_contains "drifted"

    local n=$(( $(ncalls) + 1 ))
    expect_exit 0 rollback
    check "rollback names the steps the restore replaces" contains "replaces the downs of 19 steps applied after it"
    check "... the irreversible one included" contains "keiko_v2_upgrade.data.recent_tasks_high_priority (irreversible)"
    check "... and says they were undone by it" contains "keiko_v2_upgrade.columns.users_role  (by the restore of keiko_v2_upgrade.prepare.backup)"
    same "the undone steps, in reverse order" "reopen.maintenance_off
start.start_v2
start.enable_v2
data.recent_tasks_high_priority
data.image_capabilities
data.nlp_capabilities
indexes.idx_audit_logs_user_action
indexes.idx_tasks_priority
indexes.idx_agents_capabilities
indexes.idx_users_last_login
indexes.idx_users_role
tables.audit_logs
tables.mcp_servers
columns.tasks_retry_count
columns.tasks_timeout_seconds
columns.tasks_priority
columns.agents_version
columns.agents_metadata
columns.agents_capabilities
columns.users_last_login
columns.users_preferences
columns.users_role
prepare.backup
prepare.stop_v1
prepare.maintenance_on" "$(printf '%s\n' "$OUT" | awk '$1 == "undone" { print $2 }' | sed -E 's/^keiko_v2_upgrade\.//' | awk '!seen[$0]++')"
    same "the calls on rollback: v2 stopped and disabled, v1 started" "systemctl stop $KEIKO_V2_UNITS
systemctl disable $KEIKO_V2_UNITS
systemctl enable --now $KEIKO_V1_UNITS" "$(calls_since $n)"
    same "the catalog is as before" "$before_schema" "$(schema)"
    same "schema and data are as before (priorities included)" "$before_data" "$(app_dump)"
    check "nothing tracked" test "$(tracked)" = 0
    check "no maintenance page left" test ! -e www/maintenance.html
    expect_exit 0 rollback
    check "a second rollback has nothing to do" contains "nothing to roll back"
}

g_keiko_v2_that_does_not_start_is_undone() {
    start_calls
    keiko_v1
    local before_data
    before_data=$(app_dump)
    MIG_FAIL="^systemctl start keiko-api-v2" expect_exit 1 keiko apply "$S/keiko-v2-upgrade.mig"
    check "names the failed command" contains "exit status 1"
    check "the backup's restore undid the database steps" contains "(restored the database as it was before this step)"
    check "says the run was undone" contains "rolled back: keiko_v2_upgrade is as it was before this run"
    # the failed start may have started some units: its down stops them
    same "v1 stopped, v2 enabled and tried, then v2 stopped, disabled and v1 started again" "systemctl disable --now $KEIKO_V1_UNITS
systemctl enable $KEIKO_V2_UNITS
systemctl start $KEIKO_V2_UNITS
systemctl stop $KEIKO_V2_UNITS
systemctl disable $KEIKO_V2_UNITS
systemctl enable --now $KEIKO_V1_UNITS" "$(calls_since 1)"
    same "the database is as before" "$before_data" "$(app_dump)"
    check "nothing tracked" test "$(tracked)" = 0
    check "no maintenance page left" test ! -e www/maintenance.html
    check "the v1 units run again" test -e "$MIG_CALLS.state/keiko-api.active"
}

# ---- KATO v2 (seed 001) -------------------------------------------------------

K="kubectl -n kato"
FLAG="$K set env deployment/kato-v2"
HEALTH="curl -fsS http://kato-v2.kato.svc:8000/health"
CANARY="$K annotate --overwrite ingress/kato-v2 nginx.ingress.kubernetes.io/canary-weight"

# phases_tracked — the phases with tracking rows, in the order they ran
phases_tracked() { q "SELECT phase FROM mig_applied GROUP BY phase ORDER BY min(seq)"; }

# kato_rollback_to PHASE WANT-UNDONE-STEPS WANT-CALLS WANT-PHASES-LEFT
kato_rollback_to() {
    local n=$(( $(ncalls) + 1 )) to=()
    [ -n "$1" ] && to=(--to "kato_v2.$1")
    expect_exit 0 rollback "${to[@]}"
    same "rollback ${to[*]}: the steps undone" "$2" "$(steps undone)"
    same "rollback ${to[*]}: the calls" "$3" "$(calls_since $n)"
    same "rollback ${to[*]}: the phases still applied" "$4" "$(phases_tracked)"
}

g_kato_six_phases_rolled_back_one_by_one() {
    start_calls
    expect_exit 0 allowed apply "$S/kato-v2-rollout.mig"
    check "the MongoDB checks are not run without mongo_uri" not_contains "mongosh"
    same "the calls on apply, phase by phase" "$K apply --filename deploy/kato-v2
$K rollout status deployment/kato-v2 --timeout=5m
$HEALTH
$FLAG ENABLE_V2_SESSIONS=true
$FLAG V2_SESSIONS_PERCENT=10
$FLAG V2_SESSIONS_PERCENT=50
$FLAG V2_SESSIONS_PERCENT=100
$HEALTH
$FLAG ENABLE_CONNECTION_POOLING=true
$FLAG MONGO_WRITE_CONCERN=1
$FLAG MONGO_WRITE_CONCERN=majority
$FLAG CIRCUIT_BREAKER_ENABLED=true
$HEALTH
$FLAG V2_ERROR_HANDLERS=logging
$FLAG STRUCTURED_ERRORS=true
$FLAG GRACEFUL_DEGRADATION=true
$FLAG ERROR_ALERTING=true
$HEALTH
$FLAG PROMETHEUS_METRICS=true
curl -fsS http://kato-v2.kato.svc:9090/metrics
$FLAG REQUIRE_AUTHENTICATION=true
$FLAG RATE_LIMITING=true
$HEALTH
$CANARY=90
$CANARY=100
$FLAG ENABLE_V1_ENDPOINTS=false
$K scale deployment/kato --replicas=0
$HEALTH" "$(calls_since 1)"
    check "one tracking row per step" test "$(tracked)" = 20
    expect_exit 0 "$MIGRUN" status "$S/kato-v2-rollout.mig" --db $URL
    check "status: the rollout is applied" contains "applied  kato_v2"
    check "status: nothing pending or drifted" not_contains "drifted"

    kato_rollback_to production "cutover.stop_v1
cutover.disable_v1_endpoints
cutover.traffic_100_percent
cutover.traffic_90_percent" "$K scale deployment/kato --replicas=3
$FLAG ENABLE_V1_ENDPOINTS=true
$CANARY=90
$CANARY=0" "foundation
sessions
database
errors
production"
    kato_rollback_to errors "production.rate_limiting
production.authentication
production.metrics" "$FLAG RATE_LIMITING=false
$FLAG REQUIRE_AUTHENTICATION=false
$FLAG PROMETHEUS_METRICS=false" "foundation
sessions
database
errors"
    kato_rollback_to database "errors.error_alerting
errors.graceful_degradation
errors.structured_errors
errors.error_handlers_logging" "$FLAG ERROR_ALERTING=false
$FLAG GRACEFUL_DEGRADATION=false
$FLAG STRUCTURED_ERRORS=false
$FLAG V2_ERROR_HANDLERS=off" "foundation
sessions
database"
    kato_rollback_to sessions "database.circuit_breakers
database.write_concern_majority
database.write_concern_1
database.connection_pooling" "$FLAG CIRCUIT_BREAKER_ENABLED=false
$FLAG MONGO_WRITE_CONCERN=1
$FLAG MONGO_WRITE_CONCERN=0
$FLAG ENABLE_CONNECTION_POOLING=false" "foundation
sessions"
    kato_rollback_to foundation "sessions.sessions_100_percent
sessions.sessions_50_percent
sessions.sessions_10_percent
sessions.enable_v2_sessions" "$FLAG V2_SESSIONS_PERCENT=50
$FLAG V2_SESSIONS_PERCENT=10
$FLAG V2_SESSIONS_PERCENT=0
$FLAG ENABLE_V2_SESSIONS=false" "foundation"
    kato_rollback_to "" "foundation.deploy_v2" "$K delete --filename deploy/kato-v2" ""
    check "nothing tracked" test "$(tracked)" = 0
}

g_kato_failing_flag_undoes_the_run() {
    start_calls
    MIG_FAIL="GRACEFUL_DEGRADATION=true" expect_exit 1 allowed apply "$S/kato-v2-rollout.mig"
    check "names the step" contains "phase errors, step graceful_degradation"
    local undo
    undo=$(calls_since "$(grep -n 'GRACEFUL_DEGRADATION=true' "$MIG_CALLS" | cut -d: -f1)")
    same "everything done is undone in reverse order, the failed flag first" "$FLAG GRACEFUL_DEGRADATION=true
$FLAG GRACEFUL_DEGRADATION=false
$FLAG STRUCTURED_ERRORS=false
$FLAG V2_ERROR_HANDLERS=off
$FLAG CIRCUIT_BREAKER_ENABLED=false
$FLAG MONGO_WRITE_CONCERN=1
$FLAG MONGO_WRITE_CONCERN=0
$FLAG ENABLE_CONNECTION_POOLING=false
$FLAG V2_SESSIONS_PERCENT=50
$FLAG V2_SESSIONS_PERCENT=10
$FLAG V2_SESSIONS_PERCENT=0
$FLAG ENABLE_V2_SESSIONS=false
$K delete --filename deploy/kato-v2" "$undo"
    check "nothing tracked" test "$(tracked)" = 0
}

# ---- Orchesity v2 (seed 002) --------------------------------------------------

DC1="docker-compose --file v1/docker-compose.yml"
DC2="docker-compose --file docker-compose.yml"
ORCH="curl -fsS http://localhost:8000"

g_orchesity_upgrade_and_rollback() {
    start_calls
    local before
    before=$(schema)
    # Redis answers PING on the third try: the verify polls
    MIG_FAIL="^redis-cli" MIG_FAIL_TIMES=2 expect_exit 0 allowed apply "$S/orchesity-v2-upgrade.mig"
    same "the steps in the guide's order" "stop_v1.stop_v1
redis.start_redis
schema.orchestration_requests
schema.provider_metrics
schema.user_sessions
schema.idx_orchestration_requests_created_at
schema.idx_provider_metrics_provider
schema.idx_user_sessions_expires_at
start.start_v2" "$(steps applied)"
    same "the calls on apply: v1 down, Redis up and polled, v2 up, health and statistics" "$DC1 down
$DC2 up --detach redis
redis-cli -u redis://localhost:6379/0 ping
redis-cli -u redis://localhost:6379/0 ping
redis-cli -u redis://localhost:6379/0 ping
$DC2 up --detach api
$ORCH/api/health
$ORCH/api/llm/dwa/stats
$ORCH/api/db/stats
$ORCH/api/db/cache/stats" "$(calls_since 1)"
    check "requests, metrics and sessions can be stored" q "
        INSERT INTO orchestration_requests (request_id, prompt, providers) VALUES ('req_1', 'Test prompt', '{openai}');
        INSERT INTO provider_metrics (request_id, provider, response_time, tokens_used, success) VALUES ('req_1', 'openai', 1.23, 234, true);
        INSERT INTO user_sessions (session_id, expires_at) VALUES ('s1', now() + interval '1 hour');"
    check "the indexes exist" test "$(q "SELECT count(*) FROM pg_indexes WHERE indexname IN ('idx_orchestration_requests_created_at', 'idx_provider_metrics_provider', 'idx_user_sessions_expires_at')")" = 3
    expect_exit 0 "$MIGRUN" status "$S/orchesity-v2-upgrade.mig" --db $URL
    check "status: the upgrade is applied" contains "applied  orchesity_v2"
    check "status: nothing pending or drifted" not_contains "drifted"

    local n=$(( $(ncalls) + 1 ))
    expect_exit 0 rollback
    same "the calls on rollback: v2 stopped, Redis stopped, v1 up" "$DC2 stop api
$DC2 stop redis
$DC1 up --detach" "$(calls_since $n)"
    same "the catalog is as before" "$before" "$(schema)"
    check "nothing tracked" test "$(tracked)" = 0
}

g_orchesity_v2_that_does_not_start_is_undone() {
    start_calls
    local before
    before=$(schema)
    MIG_FAIL="up --detach api" expect_exit 1 allowed apply "$S/orchesity-v2-upgrade.mig"
    check "says the run was undone" contains "rolled back: orchesity_v2 is as it was before this run"
    same "the calls: up to the failed start, then v2 stopped, Redis stopped, v1 up" "$DC1 down
$DC2 up --detach redis
redis-cli -u redis://localhost:6379/0 ping
$DC2 up --detach api
$DC2 stop api
$DC2 stop redis
$DC1 up --detach" "$(calls_since 1)"
    same "the catalog is as before" "$before" "$(schema)"
    check "nothing tracked" test "$(tracked)" = 0
}

# ---- Trusted login (seed 003) -------------------------------------------------

legacy_users() {
    q "CREATE TABLE legacy_users (id SERIAL PRIMARY KEY, username VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL,
                                  password_hash VARCHAR(255) NOT NULL, created_at TIMESTAMP DEFAULT NOW(), migrated_at TIMESTAMP);
       INSERT INTO legacy_users (username, email, password_hash)
            VALUES ('ada', 'ada@example.com', 'h1'), ('bo', 'bo@example.com', 'h2'), ('cy', '$1', 'h3');" >/dev/null
    mkdir -p backups
}

trusted() { "$MIGRUN" "$@" --db $URL --allow-exec -p backup_dir="$CASE_DIR/backups"; }
LB='kubectl patch service lb --type=merge -p {"spec":{"selector":{"version"'
APP='kubectl patch deployment/app --type=merge -p {"spec":{"replicas"'
TL_APPLY_CALLS='kubectl scale deployment/legacy-login --replicas=0
redis-cli FLUSHALL
'"$LB"':"current"}}}
'"$APP"':3}}
kubectl rollout status deployment/app --timeout=110s
curl -fsS http://lb-service/health'

g_trusted_login_big_bang_and_orchestrated_rollback() {
    start_calls
    legacy_users cy@example.com
    local before_schema before_data
    before_schema=$(schema)
    before_data=$(app_dump)
    expect_exit 0 trusted apply "$S/trusted-login-upgrade.mig"
    same "the calls on apply: legacy stopped, cache cleared, load balancer, new system, health" "$TL_APPLY_CALLS" "$(calls_since 1)"
    check "the backup reads back" sh -c "pg_restore --list backups/database.dump >/dev/null"
    same "the legacy users are in auth.users" "ada@example.com
bo@example.com
cy@example.com" "$(q "SELECT email FROM auth.users ORDER BY email")"
    check "and marked migrated" test "$(q "SELECT count(*) FROM legacy_users WHERE migrated_at IS NOT NULL")" = 3
    expect_exit 0 "$MIGRUN" status "$S/trusted-login-upgrade.mig" --db $URL
    check "status: the migration is applied" contains "applied  trusted_login_upgrade"
    check "status: nothing pending or drifted" not_contains "drifted"

    # the orchestrator's "Clear Cache" is not critical: its failure is
    # reported and the rollback goes on
    local n=$(( $(ncalls) + 1 ))
    MIG_FAIL="^redis-cli FLUSHALL" expect_exit 0 rollback
    check "the failed optional down is reported" contains "optional"
    same "the orchestrator's order: new system stopped, load balancer back, database, cache, legacy restarted" "$APP:0}}
$LB:\"previous\"}}}
redis-cli FLUSHALL
kubectl scale deployment/legacy-login --replicas=2" "$(calls_since $n)"
    same "the catalog is as before" "$before_schema" "$(schema)"
    same "schema and data are as before" "$before_data" "$(app_dump)"
    check "nothing tracked" test "$(tracked)" = 0
}

g_trusted_login_critical_down_stops_the_rollback() {
    start_calls
    legacy_users cy@example.com
    local before_data
    before_data=$(app_dump)
    expect_exit 0 trusted apply "$S/trusted-login-upgrade.mig"
    local n=$(( $(ncalls) + 1 ))
    MIG_FAIL='"previous"' expect_exit 4 rollback
    same "the rollback stops at the failed critical step" "$APP:0}}
$LB:\"previous\"}}}" "$(calls_since $n)"
    check "the database is not rolled back yet" test "$(q "SELECT count(*) FROM auth.users")" = 3
    n=$(( $(ncalls) + 1 ))
    expect_exit 0 rollback
    same "a second rollback carries on from the failed step" "$LB:\"previous\"}}}
redis-cli FLUSHALL
kubectl scale deployment/legacy-login --replicas=2" "$(calls_since $n)"
    same "schema and data are as before" "$before_data" "$(app_dump)"
    check "nothing tracked" test "$(tracked)" = 0
}

g_trusted_login_duplicate_emails_fail_validation() {
    start_calls
    legacy_users ada@example.com
    local before_data
    before_data=$(app_dump)
    expect_exit 1 trusted apply "$S/trusted-login-upgrade.mig"
    check "names the failed validation" contains "Email Uniqueness"
    same "stopped before the load balancer; the cache cleared again, legacy restarted" "kubectl scale deployment/legacy-login --replicas=0
redis-cli FLUSHALL
redis-cli FLUSHALL
kubectl scale deployment/legacy-login --replicas=2" "$(calls_since 1)"
    same "schema and data are as before" "$before_data" "$(app_dump)"
    check "nothing tracked" test "$(tracked)" = 0
}

# ---- Kaizen external agents (seed 004) ----------------------------------------

kaizen_1_3() {
    q "CREATE TABLE billing_usage (id BIGSERIAL PRIMARY KEY, organization_id varchar(255) NOT NULL,
                                   amount double precision NOT NULL DEFAULT 0,
                                   recorded_at timestamp with time zone NOT NULL DEFAULT now());
       INSERT INTO billing_usage (organization_id, amount) VALUES ('org-1', 12.5), ('org-2', 3);" >/dev/null
    mkdir -p backup
}

kaizen() { "$MIGRUN" "$@" --db $URL --allow-exec -p backup_dir="$CASE_DIR/backup"; }

g_kaizen_backup_migrate_restart_verify() {
    start_calls
    kaizen_1_3
    local before_schema before_data
    before_schema=$(schema)
    before_data=$(app_dump)
    expect_exit 0 kaizen apply "$S/kaizen-external-agents-upgrade.mig"
    same "the steps in the guide's order" "backup.dump
services.start_redis
services.stop_studio
schema.create_external_agents
schema.create_invocation_lineage
schema.billing_agent_column
indexes.org_index
indexes.lineage_email_index
indexes.lineage_agent_index
indexes.lineage_timestamp_index
start.start_studio" "$(steps applied)"
    same "the calls on apply: Redis started, Studio stopped and started, healthy" "systemctl is-active --quiet redis
systemctl start redis
redis-cli ping
systemctl stop kaizen-studio
systemctl start kaizen-studio
curl -fsS http://localhost:8000/api/health" "$(calls_since 1)"
    check "the backup holds billing_usage" sh -c 'pg_restore --list backup/kaizen_backup.dump | grep -q "TABLE DATA public billing_usage"'
    check "external agents" test "$(has_table external_agents)$(has_table invocation_lineage)" = 11
    check "the budget default" test "$(q "SELECT column_default FROM information_schema.columns WHERE table_name = 'external_agents' AND column_name = 'max_monthly_cost'")" = 100
    check "the billing rows are kept" test "$(q "SELECT count(*) FROM billing_usage")" = 2
    expect_exit 0 "$MIGRUN" status "$S/kaizen-external-agents-upgrade.mig" --db $URL
    check "status: the upgrade is applied" contains "applied  external_agents_upgrade"
    check "status: nothing pending or drifted" not_contains "drifted"

    local n=$(( $(ncalls) + 1 ))
    expect_exit 0 rollback
    same "the calls on rollback: Studio stopped, then started on the old schema, Redis stopped" "systemctl stop kaizen-studio
systemctl start kaizen-studio
systemctl stop redis" "$(calls_since $n)"
    same "the catalog is as before" "$before_schema" "$(schema)"
    same "schema and data are as before" "$before_data" "$(app_dump)"
    check "nothing tracked" test "$(tracked)" = 0
}

g_kaizen_never_healthy_is_undone() {
    start_calls
    kaizen_1_3
    mkdir -p "$MIG_CALLS.state" && touch "$MIG_CALLS.state/redis.active"     # Redis runs already
    local before_data
    before_data=$(app_dump)
    MIG_UNHEALTHY="/api/health" expect_exit 1 kaizen apply "$S/kaizen-external-agents-upgrade.mig"
    check "says why" contains "Kaizen Studio did not report healthy within 20 seconds"
    check "the running Redis was left alone" test "$(steps skipped)" = services.start_redis
    check "the health check was polled" test "$(grep -c '^curl ' "$MIG_CALLS")" -ge 5
    same "Studio stopped, started, polled, then stopped and started on the old schema" "systemctl is-active --quiet redis
systemctl stop kaizen-studio
systemctl start kaizen-studio
systemctl stop kaizen-studio
systemctl start kaizen-studio" "$(grep -v '^curl ' "$MIG_CALLS")"
    same "schema and data are as before" "$before_data" "$(app_dump)"
    check "nothing tracked" test "$(tracked)" = 0
    check "Redis still runs" test -e "$MIG_CALLS.state/redis.active"
}

for t in $(declare -F | awk '{print $3}' | grep -E "^g_" | grep -E -- "${MIG_CASES:-.}"); do
    run_case "$t"
done
finish
