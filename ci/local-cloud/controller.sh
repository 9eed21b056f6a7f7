#!/usr/bin/env bash
# controller.sh up|down|status|verify|install|purge: the controller half of the
# embedded local cloud on 127.0.0.1 (run with --help for details).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cloud.env
source "$HERE/cloud.env"
# shellcheck source=lib-controller.sh
source "$HERE/lib-controller.sh"
# shellcheck source=lib-controller-config.sh
source "$HERE/lib-controller-config.sh"

# Debian's OpenStack lives under /usr/bin/python3, not the pyenv one on PATH.
export PATH="/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV PYENV_VERSION
export LANG=C.UTF-8 LC_ALL=C.UTF-8
# CTL_TRACE=FILE: a timestamped xtrace of this script into FILE (profiling).
if [[ -n ${CTL_TRACE:-} ]]; then
  exec {CTL_TRACE_FD}>>"$CTL_TRACE"
  BASH_XTRACEFD=$CTL_TRACE_FD
  PS4='+ $EPOCHREALTIME ${FUNCNAME[0]:-main}: '
  set -x
fi

CTL_PKGS=(
  mariadb-server mariadb-client rabbitmq-server
  keystone glance placement-api
  nova-api nova-conductor nova-scheduler
  neutron-api python3-neutron
  python3-openstackclient python3-osc-placement python3-pymysql
  uwsgi-core uwsgi-plugin-python3
  curl iproute2
)

ctl_install() {
  local t0=$EPOCHREALTIME p missing=() before after
  for p in "${CTL_PKGS[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == 'install ok installed' ]] || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    ctl_log "install: all ${#CTL_PKGS[@]} packages already installed ($(ctl_elapsed "$t0")s)"
    return 0
  fi
  ctl_log "install: missing ${missing[*]}"
  local unavailable=() updated=''
  while :; do
    unavailable=()
    for p in "${missing[@]}"; do
      local cand
      cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ { print $2 }')
      [[ -n $cand && $cand != '(none)' ]] || unavailable+=("$p")
    done
    ((${#unavailable[@]} == 0)) && break
    [[ -z $updated ]] || ctl_die "install: package(s) not available from the apt sources: ${unavailable[*]}"
    ctl_log "install: ${unavailable[*]} unknown to apt-cache: running apt-get update"
    apt-get update -qq || ctl_die "install: apt-get update failed"
    updated=1
  done

  # No database or endpoint set-up from the packages' maintainer scripts:
  # this script does it all, under the state directory.
  local q sel=''
  for q in keystone glance placement nova neutron; do
    sel+="$q $q/configure_db boolean false"$'\n'
    sel+="$q $q/configure_rabbit boolean false"$'\n'
    sel+="$q $q/configure_ksat boolean false"$'\n'
    sel+="$q $q/configure_api-endpoint boolean false"$'\n'
  done
  sel+="nova-api novaapi/configure_db boolean false"$'\n'
  sel+="nova-common nova/configure_neutron boolean false"$'\n'
  sel+="nova-common nova/configure_placement boolean false"$'\n'
  sel+="neutron-common neutron/configure_nova boolean false"$'\n'
  sel+="keystone keystone/create-admin-tenant boolean false"$'\n'
  sel+="keystone keystone/register-endpoint boolean false"$'\n'
  printf '%s' "$sel" | debconf-set-selections

  # Installing must start no daemon (no systemd here; ours run from the
  # state directory). Debian's containers ship a policy-rc.d that says so;
  # provide one for the duration of the install if this machine has none.
  local own_policy=''
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  before=$(dpkg-query -W -f='${db:Status-Abbrev}${Package}\n' | awk '$1 == "ii" { print $2 }' | sort)
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >"$CTL_LOGS/apt-install.log" 2>&1 || rc=$?
  [[ -z $own_policy ]] || rm -f /usr/sbin/policy-rc.d
  if ((rc != 0)); then
    tail -n 30 "$CTL_LOGS/apt-install.log" >&2
    ctl_die "install: apt-get install failed (exit $rc) for: ${missing[*]} (full log: $CTL_LOGS/apt-install.log)"
  fi
  after=$(dpkg-query -W -f='${db:Status-Abbrev}${Package}\n' | awk '$1 == "ii" { print $2 }' | sort)
  local n
  n=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | grep -c . || true)
  ctl_log "install: installed ${missing[*]} ($n packages in all) in $(ctl_elapsed "$t0")s"
}

ctl_dirs() {
  CTL_STATE=$NUMA_CLOUD_STATE
  CTL_PIDS=$CTL_STATE/pids
  CTL_LOGS=$CTL_STATE/logs
  CTL_ETC=$CTL_STATE/etc
  CTL_DONE=$CTL_STATE/done
  mkdir -p "$CTL_PIDS" "$CTL_LOGS" "$CTL_ETC" "$CTL_DONE"
  chmod 0755 "$CTL_STATE"
}

# --- services ----------------------------------------------------------------
# Start order; down goes the other way. epmd is RabbitMQ's port mapper, run
# in the foreground here so that it is ours to stop (RabbitMQ would
# otherwise spawn a detached one).
CTL_SERVICES=(mariadb epmd rabbitmq keystone glance placement nova-api nova-conductor nova-scheduler neutron)
CTL_API_SERVICES=(keystone glance placement nova-api nova-conductor nova-scheduler neutron)

# ctl_svc_port NAME: the TCP port NAME listens on (none for conductor/scheduler).
ctl_svc_port() {
  case $1 in
    mariadb) echo "$PORT_MYSQL" ;;
    epmd) echo "$CTL_EPMD_PORT" ;;
    rabbitmq) echo "$PORT_RABBIT" ;;
    keystone) echo "$PORT_KEYSTONE" ;;
    glance) echo "$PORT_GLANCE" ;;
    placement) echo "$PORT_PLACEMENT" ;;
    nova-api) echo "$PORT_NOVA" ;;
    neutron) echo "$PORT_NEUTRON" ;;
    *) echo '' ;;
  esac
}

# ctl_svc_cfg NAME: digest of what NAME was started with; a change restarts it.
ctl_svc_cfg() {
  case $1 in
    mariadb) ctl_hash "@$CTL_ETC/my.cnf" ;;
    epmd) ctl_hash "$CTL_EPMD_PORT" ;;
    rabbitmq) ctl_hash "@$CTL_ETC/rabbitmq/rabbitmq.conf" "$CTL_RABBIT_DIST_PORT" ;;
    keystone) ctl_hash "@$CTL_ETC/keystone/keystone.conf" "@$CTL_ETC/uwsgi/keystone.ini" ;;
    glance) ctl_hash "@$CTL_ETC/glance/glance-api.conf" ;;
    placement) ctl_hash "@$CTL_ETC/placement/placement.conf" "@$CTL_ETC/uwsgi/placement.ini" ;;
    nova-api) ctl_hash "@$CTL_ETC/nova/nova.conf" "@$CTL_ETC/uwsgi/nova-api.ini" ;;
    nova-conductor | nova-scheduler) ctl_hash "@$CTL_ETC/nova/nova.conf" ;;
    neutron) ctl_hash "@$CTL_ETC/neutron/neutron.conf" "@$CTL_ETC/uwsgi/neutron.ini" "@$HERE/controller/neutron-api-wsgi.py" ;;
  esac
}

CTL_BASE_ENV=(env -i PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 LC_ALL=C.UTF-8)

# ctl_rabbit_env: the environment of RabbitMQ and of its CLI tools.
ctl_rabbit_env() {
  local home=$CTL_STATE/rabbitmq
  CTL_RABBIT_ENV=(
    "${CTL_BASE_ENV[@]}" "HOME=$home"
    RABBITMQ_NODENAME=rabbit@localhost
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    "RABBITMQ_NODE_PORT=$PORT_RABBIT"
    "RABBITMQ_DIST_PORT=$CTL_RABBIT_DIST_PORT"
    "RABBITMQ_CONFIG_FILE=$CTL_ETC/rabbitmq/rabbitmq.conf"
    "RABBITMQ_CONF_ENV_FILE=$CTL_ETC/rabbitmq/rabbitmq-env.conf"
    "RABBITMQ_ENABLED_PLUGINS_FILE=$CTL_ETC/rabbitmq/enabled_plugins"
    "RABBITMQ_MNESIA_BASE=$home/mnesia"
    "RABBITMQ_LOG_BASE=$home/log"
    "RABBITMQ_PID_FILE=$home/rabbit.pid"
    RABBITMQ_LOGS=-
    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
    ERL_EPMD_ADDRESS=127.0.0.1
    "ERL_EPMD_PORT=$CTL_EPMD_PORT"
  )
}

# ctl_launch NAME: starts NAME in the background (PID file, log).
ctl_launch() {
  local name=$1
  local as_rabbit=(setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups --)
  case $name in
    mariadb)
      if [[ ! -d $CTL_STATE/mysql/mysql ]]; then
        ctl_log "mariadb: initialising a new data directory $CTL_STATE/mysql"
        rm -rf "$CTL_STATE/mysql" "${CTL_DONE:?}"/*
        mkdir -p "$CTL_STATE/mysql"
        chown mysql:mysql "$CTL_STATE/mysql"
        timeout 300 mariadb-install-db --defaults-file="$CTL_ETC/my.cnf" --user=mysql \
          --auth-root-authentication-method=socket --skip-test-db \
          >>"$CTL_LOGS/mariadb.log" 2>&1 ||
          { ctl_tail_log mariadb; ctl_die "mariadb: mariadb-install-db failed"; }
      fi
      mkdir -p "$(dirname "$CTL_MYSQL_SOCK")"
      chown mysql:mysql "$(dirname "$CTL_MYSQL_SOCK")"
      ctl_start_bg mariadb "${CTL_BASE_ENV[@]}" /usr/sbin/mariadbd --defaults-file="$CTL_ETC/my.cnf" --user=mysql
      ;;
    epmd)
      ctl_start_bg epmd "${CTL_BASE_ENV[@]}" "${as_rabbit[@]}" /usr/bin/epmd -address 127.0.0.1 -port "$CTL_EPMD_PORT"
      ;;
    rabbitmq)
      mkdir -p "$CTL_STATE/rabbitmq"
      chown -R rabbitmq:rabbitmq "$CTL_STATE/rabbitmq"
      ctl_rabbit_env
      ctl_start_bg rabbitmq "${CTL_RABBIT_ENV[@]}" "${as_rabbit[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server
      ;;
    keystone | placement | nova-api | neutron)
      ctl_start_bg "$name" "${CTL_BASE_ENV[@]}" HOME=/root /usr/bin/uwsgi --ini "$CTL_ETC/uwsgi/$name.ini"
      ;;
    glance)
      ctl_start_bg glance "${CTL_BASE_ENV[@]}" HOME=/root /usr/bin/glance-api --config-file "$CTL_ETC/glance/glance-api.conf"
      ;;
    nova-conductor | nova-scheduler)
      ctl_start_bg "$name" "${CTL_BASE_ENV[@]}" HOME=/root "/usr/bin/$name" --config-file "$CTL_ETC/nova/nova.conf"
      ;;
    *) ctl_die "unknown service $name" ;;
  esac
  ctl_svc_cfg "$name" >"$CTL_PIDS/$name.cfg"
  ctl_read_pid "$name" || true
  ctl_log "started $name (pid ${CTL_PID:-?}), log $CTL_LOGS/$name.log"
}

# ctl_ensure NAME: NAME runs with the current configuration afterwards
# (started if down, restarted if its configuration changed, kept otherwise).
ctl_ensure() {
  local name=$1 port
  port=$(ctl_svc_port "$name")
  if ctl_svc_pid_alive "$name"; then
    local want have=''
    want=$(ctl_svc_cfg "$name")
    have=$(cat "$CTL_PIDS/$name.cfg" 2>/dev/null || true)
    if [[ $want == "$have" ]]; then
      ctl_log "$name already running (pid $CTL_PID)"
      return 0
    fi
    ctl_log "$name: configuration changed, restarting"
    ctl_stop "$name"
  elif [[ -f $CTL_PIDS/$name.pid ]]; then
    ctl_log "$name: stale PID file (pid ${CTL_PID:-?} is gone), starting it again"
    ctl_stop "$name" # clears the PID file and any leftover of its group
  fi
  if [[ -n $port ]] && ctl_port_open "$port"; then
    local owner
    owner=$(ctl_port_owner "$port")
    ctl_die "port $port (needed by $name) is already in use by another process: ${owner:-unknown (see: ss -ltnp \"sport = :$port\")}. Stop it or set the port in cloud.env."
  fi
  ctl_launch "$name"
}

# ctl_preflight: before starting anything, every port of a service that is
# not running (as ours) must be free.
ctl_preflight() {
  local svc port owner busy=()
  for svc in "${CTL_SERVICES[@]}"; do
    port=$(ctl_svc_port "$svc")
    [[ -n $port ]] || continue
    ctl_svc_pid_alive "$svc" && continue
    if ctl_port_open "$port"; then
      owner=$(ctl_port_owner "$port")
      busy+=("port $port (needed by $svc) is in use by another process: ${owner:-unknown (see: ss -ltnp \"sport = :$port\")}")
    fi
  done
  if ((${#busy[@]} > 0)); then
    printf '[controller %s] ERROR: %s\n' "$(date +%T)" "${busy[@]}" >&2
    ctl_die "ports in use: stop those processes or change the ports in cloud.env (PORT_*)"
  fi
}

# ctl_ready NAME: one readiness probe of NAME.
ctl_ready() {
  local name=$1 port code
  port=$(ctl_svc_port "$name")
  case $name in
    mariadb | epmd | rabbitmq) ctl_port_open "$port" ;;
    keystone) [[ $(ctl_http_code "http://127.0.0.1:$port/v3") == 200 ]] ;;
    glance | placement | nova-api | neutron)
      code=$(ctl_http_code "http://127.0.0.1:$port/")
      [[ $code =~ ^[23] ]]
      ;;
    # Their real readiness is "up" in the compute service list (verify).
    nova-conductor | nova-scheduler) ctl_svc_pid_alive "$name" ;;
  esac
}

# ctl_wait_ready NAME [TIMEOUT]
ctl_wait_ready() {
  local name=$1 timeout=${2:-60} t0=$EPOCHREALTIME
  local port
  port=$(ctl_svc_port "$name")
  ctl_wait "$name" "$timeout" "answer${port:+ on port $port}" ctl_ready "$name" || return 1
  ctl_log "$name ready ($(ctl_elapsed "$t0")s)"
}

# --- databases and one-time set-up ------------------------------------------

ctl_mysql() { timeout 60 mariadb --defaults-file="$CTL_ETC/my.cnf" -uroot "$@"; }

CTL_DATABASES=(keystone glance placement nova_api nova nova_cell0 neutron)

ctl_create_databases() {
  local sql='' db host
  for host in 127.0.0.1 localhost; do
    sql+="CREATE USER IF NOT EXISTS '$CTL_DB_USER'@'$host' IDENTIFIED BY '$DB_PASSWORD';"
    sql+="ALTER USER '$CTL_DB_USER'@'$host' IDENTIFIED BY '$DB_PASSWORD';"
  done
  for db in "${CTL_DATABASES[@]}"; do
    sql+="CREATE DATABASE IF NOT EXISTS \`$db\`;"
    for host in 127.0.0.1 localhost; do
      sql+="GRANT ALL PRIVILEGES ON \`$db\`.* TO '$CTL_DB_USER'@'$host';"
    done
  done
  ctl_mysql -e "$sql" || ctl_die "mariadb: creating the databases failed"
}

# ctl_pkg_version PKG: installed version (part of the one-time steps' keys,
# so a package upgrade re-runs its schema migrations).
ctl_pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

# One-time steps, each a function run with its output in logs/setup-NAME.log
# and skipped while done/NAME holds the digest of its inputs. Each command
# gets at most CTL_STEP_TIMEOUT seconds (default 300).
ctl_step_run() { timeout "${CTL_STEP_TIMEOUT:-300}" "${CTL_BASE_ENV[@]}" HOME=/root "$@"; }
ctl_setup_keystone() {
  mkdir -p "$CTL_STATE/keystone"
  ctl_step_run PORT_KEYSTONE="$PORT_KEYSTONE" PORT_GLANCE="$PORT_GLANCE" \
    PORT_PLACEMENT="$PORT_PLACEMENT" PORT_NOVA="$PORT_NOVA" PORT_NEUTRON="$PORT_NEUTRON" \
    REGION="$REGION" ADMIN_PASSWORD="$ADMIN_PASSWORD" SERVICE_PASSWORD="$SERVICE_PASSWORD" \
    /usr/bin/python3 "$HERE/controller/keystone-init.py" "$CTL_ETC/keystone/keystone.conf"
}
ctl_setup_glance() { ctl_step_run glance-manage --config-file "$CTL_ETC/glance/glance-api.conf" db_sync; }
ctl_setup_placement() { ctl_step_run placement-manage --config-file "$CTL_ETC/placement/placement.conf" db sync; }
ctl_setup_neutron() { ctl_step_run neutron-db-manage --config-file "$CTL_ETC/neutron/neutron.conf" upgrade heads; }
ctl_setup_nova() {
  ctl_step_run /usr/bin/python3 "$HERE/controller/nova-init.py" "$CTL_ETC/nova/nova.conf" \
    "$(ctl_db_url nova_cell0)" "$(ctl_db_url nova)" "$CTL_RABBIT_URL"
}

# ctl_step_key NAME: digest of everything step NAME depends on.
ctl_step_key() {
  case $1 in
    keystone) ctl_hash "$(ctl_pkg_version keystone)" "@$CTL_ETC/keystone/keystone.conf" "@$HERE/controller/keystone-init.py" \
      "$ADMIN_PASSWORD" "$SERVICE_PASSWORD" "$REGION" "$PORT_KEYSTONE" "$PORT_GLANCE" "$PORT_PLACEMENT" "$PORT_NOVA" "$PORT_NEUTRON" ;;
    glance) ctl_hash "$(ctl_pkg_version glance-common)" "$(ctl_db_url glance)" ;;
    placement) ctl_hash "$(ctl_pkg_version placement-common)" "$(ctl_db_url placement)" ;;
    neutron) ctl_hash "$(ctl_pkg_version python3-neutron)" "$(ctl_db_url neutron)" ;;
    nova) ctl_hash "$(ctl_pkg_version python3-nova)" "$(ctl_db_url nova)" "$(ctl_db_url nova_api)" "$(ctl_db_url nova_cell0)" "$CTL_RABBIT_URL" "@$HERE/controller/nova-init.py" ;;
  esac
}

# ctl_steps NAME...: runs the pending one-time steps in parallel; as each
# one completes (or is already done) its service starts (ctl_after_step),
# so Keystone loads while Neutron's migrations still run.
ctl_steps() {
  local name key rc failed=() pid
  local -A step_name=() step_key=()
  for name in "$@"; do
    key=$(ctl_step_key "$name")
    if [[ $(cat "$CTL_DONE/$name" 2>/dev/null || true) == "$key" ]]; then
      ctl_after_step "$name"
      continue
    fi
    local t0=$EPOCHREALTIME
    (
      printf '===== %s controller.sh set-up step %s\n' "$(date -Is)" "$name"
      set -x
      "ctl_setup_$name"
      set +x
      printf '===== step %s done in %ss\n' "$name" "$(ctl_elapsed "$t0")"
    ) >>"$CTL_LOGS/setup-$name.log" 2>&1 &
    step_name[$!]=$name step_key[$!]=$key
  done
  ((${#step_name[@]} > 0)) || return 0
  ctl_log "set-up steps: ${step_name[*]}"
  while ((${#step_name[@]} > 0)); do
    rc=0
    wait -n -p pid "${!step_name[@]}" || rc=$?
    name=${step_name[$pid]}
    if ((rc == 0)); then
      printf '%s\n' "${step_key[$pid]}" >"$CTL_DONE/$name"
      ctl_log "set-up $name done ($(tail -n1 "$CTL_LOGS/setup-$name.log" | grep -o '[0-9.]*s$' || true))"
      ctl_after_step "$name"
    else
      failed+=("$name")
      printf '[controller %s] ERROR: set-up step %s failed (exit %s)\n' "$(date +%T)" "$name" "$rc" >&2
      ctl_tail_log "setup-$name"
    fi
    unset "step_name[$pid]" "step_key[$pid]"
  done
  ((${#failed[@]} == 0)) || ctl_die "set-up failed: ${failed[*]}"
}

# ctl_after_step NAME: the service(s) whose database step NAME prepared.
ctl_after_step() {
  case $1 in
    keystone | glance | placement | neutron) ctl_ensure "$1" ;;
    nova) ctl_ensure nova-api ;;
  esac
}

# --- verification ------------------------------------------------------------

ctl_os() {
  "${CTL_BASE_ENV[@]}" HOME=/root OS_CLIENT_CONFIG_FILE="$CTL_STATE/clouds.yaml" \
    timeout 60 /usr/bin/openstack --os-cloud "$CLOUD_NAME" "$@"
}

# ctl_verify [TIMEOUT]: the control plane answers through Debian's client,
# configured by the generated clouds.yaml. One `openstack` process runs the
# four commands (read from stdin): one start-up, one token.
CTL_VERIFY_CMDS=(
  'compute service list -f json -c Binary -c State'
  'network list -f json -c ID'
  'image list -f json -c ID'
  'resource provider list -f json -c uuid'
)
ctl_verify() {
  local timeout=${1:-60} t0=$EPOCHREALTIME out summary err svc
  local deadline=$((SECONDS + timeout))
  err=$(mktemp)
  while :; do
    out=$(printf '%s\n' "${CTL_VERIFY_CMDS[@]}" |
      "${CTL_BASE_ENV[@]}" HOME=/root OS_CLIENT_CONFIG_FILE="$CTL_STATE/clouds.yaml" \
        OS_CLOUD="$CLOUD_NAME" timeout 60 /usr/bin/openstack 2>"$err") || true
    if summary=$(/usr/bin/python3 "$HERE/controller/verify-parse.py" <<<"$out"); then
      rm -f "$err"
      ctl_log "verified: $summary ($(ctl_elapsed "$t0")s)"
      return 0
    fi
    for svc in nova-conductor nova-scheduler; do
      if ! ctl_svc_pid_alive "$svc"; then
        printf '[controller %s] ERROR: %s exited\n' "$(date +%T)" "$svc" >&2
        ctl_tail_log "$svc"
        rm -f "$err"
        return 1
      fi
    done
    ((SECONDS < deadline)) || break
    sleep 2
  done
  printf '[controller %s] ERROR: verification failed after %ss: %s\n' "$(date +%T)" "$timeout" "$summary" >&2
  cat "$err" >&2
  rm -f "$err"
  # Name the culprit: each command on its own.
  local cmd
  for cmd in "${CTL_VERIFY_CMDS[@]}"; do
    # shellcheck disable=SC2086 # the commands are words
    if ! ctl_os $cmd >/dev/null 2>&1; then
      printf '[controller %s] ERROR: "openstack %s" fails:\n' "$(date +%T)" "$cmd" >&2
      # shellcheck disable=SC2086
      ctl_os $cmd 2>&1 | tail -n 5 >&2 || true
      case $cmd in
        compute*) ctl_tail_log nova-api 15 ;;
        network*) ctl_tail_log neutron 15 ;;
        image*) ctl_tail_log glance 15 ;;
        resource*) ctl_tail_log placement 15 ;;
      esac
    fi
  done
  if [[ $summary == 'not up'* ]]; then
    ctl_tail_log nova-conductor 15
    ctl_tail_log nova-scheduler 15
  fi
  return 1
}

# --- commands ------------------------------------------------------------------

ctl_up() {
  local t_all=$EPOCHREALTIME t0 svc
  ctl_log "up: state directory $CTL_STATE"

  t0=$EPOCHREALTIME
  ctl_install
  ctl_log "phase install: $(ctl_elapsed "$t0")s"

  t0=$EPOCHREALTIME
  ctl_render_all
  ctl_preflight
  ctl_write_outputs
  ctl_ensure mariadb
  ctl_ensure epmd
  ctl_wait_ready epmd 30 || ctl_die "epmd did not start"
  ctl_ensure rabbitmq
  ctl_wait_ready mariadb 60 || ctl_die "mariadb did not become ready"
  ctl_create_databases
  ctl_steps keystone glance placement nova neutron
  ctl_log "phase configure: $(ctl_elapsed "$t0")s (API services start as their databases become ready)"

  # nova-conductor and nova-scheduler authenticate to Keystone and reach
  # Placement while they initialise (and exit if they cannot): they start
  # once those two answer.
  t0=$EPOCHREALTIME
  for svc in keystone placement; do
    ctl_wait_ready "$svc" 60 || ctl_die "$svc did not become ready (log: $CTL_LOGS/$svc.log)"
  done
  for svc in nova-conductor nova-scheduler; do ctl_ensure "$svc"; done
  ctl_log "phase start: $(ctl_elapsed "$t0")s"

  t0=$EPOCHREALTIME
  for svc in rabbitmq glance nova-api neutron nova-conductor nova-scheduler; do
    ctl_wait_ready "$svc" 60 || ctl_die "$svc did not become ready (log: $CTL_LOGS/$svc.log)"
  done
  ctl_verify 60 || ctl_die "the control plane does not answer as it should"
  ctl_log "phase ready: $(ctl_elapsed "$t0")s"
  ctl_log "controller up in $(ctl_elapsed "$t_all")s: OS_CLIENT_CONFIG_FILE=$CTL_STATE/clouds.yaml openstack --os-cloud $CLOUD_NAME ...; compute VM settings in $CTL_STATE/nova-compute.conf.fragment"
}

ctl_down() {
  local t0=$EPOCHREALTIME svc pids=() i
  ctl_config_vars
  # The OpenStack services in parallel, then what they depend on.
  for svc in "${CTL_API_SERVICES[@]}"; do
    ctl_stop "$svc" 15 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || true; done
  for svc in rabbitmq epmd mariadb; do ctl_stop "$svc" 30; done
  ctl_log "down in $(ctl_elapsed "$t0")s"
}

# ctl_purge: down, then delete the controller's state (databases, queues,
# keys, images, configs, logs, outputs) but nothing else under the state
# directory (the compute VM keeps its files there too).
ctl_purge() {
  ctl_down
  local svc
  for svc in "${CTL_SERVICES[@]}"; do
    rm -f "$CTL_PIDS/$svc.pid" "$CTL_PIDS/$svc.cfg" "$CTL_LOGS/$svc.log"
  done
  rm -f "$CTL_LOGS"/setup-*.log "$CTL_LOGS/apt-install.log" \
    "$CTL_STATE/clouds.yaml" "$CTL_STATE/admin-openrc" "$CTL_STATE/nova-compute.conf.fragment"
  rm -rf "${CTL_STATE:?}"/{mysql,rabbitmq,keystone,glance,nova,neutron,lock,run,done,etc}
  ctl_log "purged the controller's state under $CTL_STATE"
}

ctl_status() {
  local svc port pidinfo answer rc=0
  ctl_config_vars
  printf '%-15s %-8s %-6s %s\n' SERVICE PID PORT ANSWERS
  for svc in "${CTL_SERVICES[@]}"; do
    port=$(ctl_svc_port "$svc")
    if ctl_svc_pid_alive "$svc"; then pidinfo=$CTL_PID; elif [[ -f $CTL_PIDS/$svc.pid ]]; then pidinfo=dead; else pidinfo=-; fi
    if [[ -z $port ]]; then
      if [[ $pidinfo =~ ^[0-9]+$ ]]; then answer='running (no port)'; else answer=no; fi
    elif ctl_ready "$svc"; then
      answer=yes
    elif ctl_port_open "$port"; then
      answer='port open, not ready'
    else
      answer=no
    fi
    [[ $answer == yes || $answer == 'running (no port)' ]] || rc=3
    printf '%-15s %-8s %-6s %s\n' "$svc" "$pidinfo" "${port:--}" "$answer"
  done
  return "$rc"
}

usage() {
  cat <<EOF
usage: $0 up|down|status|install|verify|purge

  up       install missing packages, configure and start the controller
           (MariaDB, RabbitMQ, Keystone, Glance, Placement, Nova API,
           conductor and scheduler, Neutron API) on 127.0.0.1, wait until
           it answers and verify it with the openstack client. Idempotent:
           starts only what is down, restarts what changed configuration.
  down     stop every process that up started (by recorded PID).
  status   each service, its PID, port and whether it answers (exit 3 if
           any does not).
  install  only install the packages.
  verify   only the end-to-end check of a running controller.
  purge    down, then delete the controller's databases, queues, keys,
           images, configuration and logs (the next up starts afresh).

Settings: $HERE/cloud.env. State, logs and configuration:
\$NUMA_CLOUD_STATE (now $NUMA_CLOUD_STATE).
EOF
}

main() {
  local cmd=${1:-}
  case $cmd in
    up | down | status | install | verify | purge) ;;
    -h | --help | help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  ctl_dirs
  if [[ $cmd != status ]]; then
    # One up/down/purge/install at a time (two concurrent runs would start
    # services twice).
    exec {CTL_LOCK_FD}>"$CTL_STATE/.controller.lock"
    if ! flock -n "$CTL_LOCK_FD"; then
      ctl_log "another controller.sh is running; waiting for it (up to 10 min)"
      flock -w 600 "$CTL_LOCK_FD" || ctl_die "another controller.sh still holds $CTL_STATE/.controller.lock"
    fi
  fi
  case $cmd in
    up) ctl_up ;;
    down) ctl_down ;;
    status) ctl_status ;;
    install) ctl_install ;;
    verify) ctl_config_vars; ctl_verify 60 ;;
    purge) ctl_purge ;;
  esac
}

main "$@"
