#!/usr/bin/env bash
# Install Anxin from this checkout (or unpacked release): a home hub on Raspberry Pi OS Bookworm,
# or the township station on Debian 12. Safe to run again: every step first looks at what is
# there, says "ok, already …" when nothing needs doing, never re-issues a certificate and never
# overwrites a config file. With --prefix it writes the whole tree under a folder instead, needs
# no root and changes nothing on the system: the system steps are printed as "would run: …".
set -euo pipefail

usage() {
  cat <<'EOF'
usage: sudo bash systemd/install.sh hub|station [options]

  hub       a home hub (Raspberry Pi 3/4/5, Zero 2 W): GPIO, radar UART, Bluetooth, audio
  station   the township station: Mosquitto with TLS and the ACL, the station CA, the station service

options:
  --hub-id ID           hub: this home's id at the station (provisioning can set it later)
  --broker-host HOST    the station broker's name or address as hubs reach it; repeat for
                        several (station default: this machine's FQDN)
  --broker-port PORT    the broker's TLS port (default 8883)
  --station-id ID       station: station_id in station.yaml and its certificate (default station)
  --prefix DIR          install everything under DIR: no root, no apt, no users, no chown, no
                        systemctl; the units' paths point into DIR. The skipped system steps are
                        printed as "would run: …"
  --force               go on although this system is not Debian or Ubuntu
  -h, --help            this text

Layout: /opt/anxin/venv (the software), /usr/local/bin/anxin, /etc/anxin (config; the CA in
/etc/anxin/ca on the station), /var/lib/anxin (data, user anxin), /etc/systemd/system (units),
/etc/mosquitto/anxin and conf.d/anxin.conf (station broker). docs/install-hub.md, docs/station.md.
EOF
}

usage_error() { echo "install.sh: $*" >&2; echo "usage: install.sh hub|station [options] (--help for more)" >&2; exit 2; }
die() { echo "install.sh: error: $*" >&2; exit 1; }

ROLE="" P="" HUB_ID="" STATION_ID="station" PORT=8883 FORCE=0
HOSTS=()
value() { if [ $# -lt 2 ] || [ -z "$2" ] || [ "${2#--}" != "$2" ]; then usage_error "$1 needs a value"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    hub|station) [ -z "$ROLE" ] || usage_error "give hub or station once, not both"; ROLE=$1 ;;
    --prefix) value "$@"; P=$(realpath -m -- "$2"); shift ;;
    --hub-id) value "$@"; HUB_ID=$2; shift ;;
    --station-id) value "$@"; STATION_ID=$2; shift ;;
    --broker-host) value "$@"; HOSTS+=("$2"); shift ;;
    --broker-port) value "$@"; PORT=$2; shift ;;
    --force) FORCE=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
  shift
done
[ -n "$ROLE" ] || usage_error "say what to install: hub or station"
[ "$P" != "/" ] || usage_error "--prefix /: leave --prefix out for a real install"
if ! [[ "$PORT" =~ ^[0-9]{1,5}$ ]] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
  usage_error "--broker-port $PORT: not a port number (1-65535)"
fi
if [ "$ROLE" = hub ]; then
  [ "$STATION_ID" = station ] || usage_error "--station-id is for a station"
  [ -z "$HUB_ID" ] || [[ "$HUB_ID" =~ ^[a-z0-9][a-z0-9_-]{0,63}$ ]] ||
    usage_error "--hub-id $HUB_ID: use a-z, 0-9, - and _ (up to 64, starting with a letter or digit)"
else
  [ -z "$HUB_ID" ] || usage_error "--hub-id is for a hub (the station issues hub ids with anxin provision issue)"
  [[ "$STATION_ID" =~ ^[a-z0-9][a-z0-9_-]{0,31}$ ]] ||
    usage_error "--station-id $STATION_ID: use a-z, 0-9, - and _ (up to 32, starting with a letter or digit)"
fi
for h in "${HOSTS[@]}"; do
  [[ "$h" =~ ^[A-Za-z0-9.:-]+$ ]] || usage_error "--broker-host $h: not a host name or address"
done

SRC=$(cd "$(dirname "$0")/.." && pwd)
if ! [ -f "$SRC/pyproject.toml" ] || ! [ -d "$SRC/hub" ] || ! [ -d "$SRC/config" ]; then
  die "$SRC is not an Anxin checkout (no pyproject.toml, hub/, config/): run the script from one"
fi
[ -n "$P" ] || [ "$(id -u)" -eq 0 ] ||
  die "run it as root (sudo bash systemd/install.sh $ROLE …), or try it with --prefix DIR"

ETC=$P/etc/anxin VAR=$P/var/lib/anxin OPT=$P/opt/anxin
VENV=$OPT/venv BIN=$P/usr/local/bin UNIT_DIR=$P/etc/systemd/system MQ=$P/etc/mosquitto
ANXIN=$VENV/bin/anxin PYTHON=/usr/bin/python3 USER_NAME=anxin
export DEBIAN_FRONTEND=noninteractive
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

CHANGES=0 PKG_CHANGED=0 UNITS_CHANGED=0 BROKER_CHANGED=0 READY=0 REBOOT=0 NOT_READY=""
say() { printf '%-9s %s\n' "$1:" "$2"; }
ok() { say "$1" "ok, already $2"; }
changed() { CHANGES=$((CHANGES + 1)); say "$1" "$2"; }
warn() { say "$1" "warning: $2"; }
# A system step: run as root, or with --prefix only shown.
run() {
  local step=$1; shift
  if [ -n "$P" ]; then say "$step" "would run: $*"; else changed "$step" "running: $*"; "$@"; fi
}
own() {  # OWNER:GROUP PATH…: chown what is not owned so yet (with --prefix: show it)
  local who=$1 f todo=(); shift
  for f in "$@"; do [ -n "$P" ] || [ "$(stat -c %U:%G "$f")" != "$who" ] || continue; todo+=("$f"); done
  [ ${#todo[@]} = 0 ] || run owner chown "$who" "${todo[@]}"
}
mode() {  # MODE PATH…: chmod what has another mode; part of the tree, so also with --prefix
  local m=$1; shift
  for f in "$@"; do [ "$(stat -c %a "$f")" = "$m" ] || { chmod "$m" "$f"; changed mode "$f: mode $m"; }; done
}
# /opt/anxin, /etc/anxin and /var/lib/anxin in a shipped file, pointed into the prefix.
prefixed() {
  if [ -z "$P" ]; then cat "$1"; return; fi
  local to; to=$(printf '%s' "$P" | sed 's/[\\&#]/\\&/g')
  sed -E "s#(/opt/anxin|/etc/anxin|/var/lib/anxin)#$to\\1#g" "$1"
}
# The one line of an example config that matches REGEX gets the match replaced by TEXT ("\n"
# starts a new line); anything else means config/ changed under the installer: stop.
fill() {
  local n; n=$(grep -cE -- "$2" "$1" || true)
  [ "$n" = 1 ] || die "$1: expected one line matching /$2/, found $n (did config/ change? update systemd/install.sh)"
  awk -v re="$2" -v text="$3" '$0 ~ re { sub(re, text) } { print }' "$1" >"$1.new"
  mv "$1.new" "$1"
}
# Copy FILE to DEST unless DEST already has the same content.
put() {
  local step=$1 file=$2 dest=$3 m=$4
  if cmp -s "$file" "$dest"; then return 1; fi
  mkdir -p "$(dirname "$dest")"
  install -m "$m" "$file" "$dest"
  changed "$step" "installed $dest"
}
# A config file is written once, from its template; after that it is the installer's.
write_once() {  # STEP DEST MODE TEMPLATE_FILE DESCRIPTION
  if [ -e "$2" ]; then say "$1" "kept $2 (never overwritten)"; return 1; fi
  install -m "$3" "$4" "$2"
  own "root:$USER_NAME" "$2"
  changed "$1" "wrote $2 ($5)"
}

# --- the system ---------------------------------------------------------------------------
os_field() { sed -n "s/^$1=//p" "${ANXIN_OS_RELEASE:-/etc/os-release}" 2>/dev/null | tr -d '"' | head -n1; }
OS_ID=$(os_field ID) OS_VERSION=$(os_field VERSION_ID) OS_NAME=$(os_field PRETTY_NAME)
MODEL=${ANXIN_DT_MODEL-$(tr -d '\0' 2>/dev/null </proc/device-tree/model || true)}  # ANXIN_DT_MODEL: tests
printf 'Anxin %s install from %s on %s%s\n' "$ROLE" "$SRC" "${OS_NAME:-an unknown system}" "${MODEL:+ ($MODEL)}"
[ -z "$P" ] || printf 'into %s: no root, no system changes; system steps are shown as "would run"\n' "$P"
case "$OS_ID:$OS_VERSION" in
  debian:12|raspbian:12) ok system "supported: ${OS_NAME}" ;;
  debian:1[3-9]*|raspbian:1[3-9]*|ubuntu:*) warn system "$OS_NAME is not Raspberry Pi OS Bookworm / Debian 12; going on (tested on Debian 12)" ;;
  *) [ "$FORCE" = 1 ] || die "unsupported system: ${OS_NAME:-no /etc/os-release} (Anxin needs Raspberry Pi OS Bookworm or Debian 12; Debian 13 and Ubuntu work with a warning; --force tries anyway)"
     warn system "${OS_NAME:-unknown system}: not supported, going on because of --force" ;;
esac
if [ "$ROLE" = hub ] && [ -z "$P" ] && [[ "$MODEL" != "Raspberry Pi"* ]]; then
  warn system "not a Raspberry Pi: buttons, radar UART and GPIO outputs need one (a bench hub can use backend: sim)"
fi

# --- packages -----------------------------------------------------------------------------
if [ "$ROLE" = hub ]; then
  PACKAGES=(python3-venv libportaudio2 libopus0 bluez espeak-ng)
  # gpiozero's pin library on Bookworm; only Raspberry Pi OS has it, and only a Pi can use it.
  if [ -n "$P" ] || [[ "$MODEL" == "Raspberry Pi"* ]]; then PACKAGES+=(python3-lgpio)
  else say packages "python3-lgpio left out: not a Raspberry Pi"; fi
else
  PACKAGES=(python3-venv mosquitto)
fi
missing=() have=()
for p in "${PACKAGES[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then have+=("$p"); else missing+=("$p"); fi
done
[ ${#have[@]} = 0 ] || ok packages "installed: ${have[*]}"
if [ ${#missing[@]} -gt 0 ]; then
  run packages apt-get update -qq
  for p in "${missing[@]}"; do
    [ -n "$P" ] || apt-cache show "$p" >/dev/null 2>&1 || die "apt knows no package $p: check /etc/apt/sources.list"
  done
  run packages apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- the service user ---------------------------------------------------------------------
# The hub's unit runs with these supplementary groups; a Debian that is not a Pi has no gpio.
HW_GROUPS=()
[ "$ROLE" = station ] || HW_GROUPS=(gpio dialout audio bluetooth)
for g in "${HW_GROUPS[@]}"; do
  getent group "$g" >/dev/null || { say user "no group $g here (not a Raspberry Pi?): creating it"; run user groupadd --system "$g"; }
done
groups_csv=$(IFS=,; echo "${HW_GROUPS[*]}")
if getent passwd "$USER_NAME" >/dev/null; then
  lacking=()
  for g in "${HW_GROUPS[@]}"; do id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx "$g" || lacking+=("$g"); done
  if [ ${#lacking[@]} = 0 ]; then ok user "there: $USER_NAME${groups_csv:+ (groups $groups_csv)}"
  else run user usermod -aG "$(IFS=,; echo "${lacking[*]}")" "$USER_NAME"; fi
else
  own_group=(--user-group)
  if getent group "$USER_NAME" >/dev/null; then own_group=(--gid "$USER_NAME"); fi
  run user useradd --system "${own_group[@]}" --home-dir "$VAR" --no-create-home \
    --shell /usr/sbin/nologin ${groups_csv:+--groups "$groups_csv"} "$USER_NAME"
fi

# --- the radar's UART (Raspberry Pi OS) ---------------------------------------------------
if [ "$ROLE" = hub ]; then
  if ! command -v raspi-config >/dev/null; then
    say uart "skipped: no raspi-config (not Raspberry Pi OS); the radar needs the UART on, without a login console"
  elif [ "$(raspi-config nonint get_serial_hw 2>/dev/null)" = 0 ] && [ "$(raspi-config nonint get_serial_cons 2>/dev/null)" = 1 ]; then
    ok uart "on, with no login console on it"
  else
    run uart raspi-config nonint do_serial_hw 0
    run uart raspi-config nonint do_serial_cons 1
    REBOOT=1
  fi
  # Which overlay frees GPIO 14/15 as /dev/ttyAMA0 (the PL011) depends on the model.
  overlay=""
  case "$MODEL" in
    "Raspberry Pi 5"*|"Raspberry Pi Compute Module 5"*) overlay="dtparam=uart0=on" ;;  # Bluetooth has its own UART
    "Raspberry Pi 3"*|"Raspberry Pi 4"*|"Raspberry Pi Zero 2"*|"Raspberry Pi Compute Module 4"*)
      overlay="dtoverlay=miniuart-bt" ;;  # Bluetooth holds the PL011: move it to the mini-UART (disable-bt would lose the BLE sensors)
  esac
  boot_config=$P/boot/firmware/config.txt
  [ -e "$boot_config" ] || [ -z "$P" ] || [ ! -e "$P/boot/config.txt" ] || boot_config=$P/boot/config.txt
  if [ -z "$overlay" ]; then
    [ -z "$MODEL" ] || say uart "no overlay known for $MODEL: check that the radar's UART is /dev/ttyAMA0 (anxin doctor)"
  elif grep -qx "$overlay" "$boot_config" 2>/dev/null; then
    ok uart "$overlay in $boot_config"
  elif [ -n "$P" ]; then
    say uart "would run: echo $overlay >> $boot_config"
  else
    [ -e "$boot_config" ] || die "no $boot_config: is this Raspberry Pi OS Bookworm?"
    printf '\n# Anxin: the fall radar on GPIO 14/15 (/dev/ttyAMA0)\n%s\n' "$overlay" >>"$boot_config"
    changed uart "added $overlay to $boot_config"
    REBOOT=1
  fi
fi

# --- the software -------------------------------------------------------------------------
if ! "$PYTHON" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  die "$PYTHON with venv, version 3.11 or later, is needed (Bookworm has it: apt install python3-venv)"
fi
if [ -x "$VENV/bin/python" ]; then
  ok venv "there: $VENV"
else
  # System site-packages: python3-lgpio comes from apt, not from PyPI.
  "$PYTHON" -m venv --system-site-packages "$VENV"
  changed venv "created $VENV ($("$PYTHON" -V), with the system's site-packages for python3-lgpio)"
fi
parts=(pyproject.toml README.md hub drivers console config)
source_hash=$(cd "$SRC" && find "${parts[@]}" -name __pycache__ -prune -o -type f -print0 |
  LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
if [ -x "$ANXIN" ] && [ "$(cat "$OPT/installed-source" 2>/dev/null)" = "$source_hash" ]; then
  ok anxin "installed from this source ($source_hash)"
else
  # Built from a copy: pip's in-tree build would leave build/ and *.egg-info in the checkout.
  mkdir "$WORK/src"
  tar -C "$SRC" --exclude=__pycache__ -cf - "${parts[@]}" | tar -C "$WORK/src" -xf -
  started=$SECONDS
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$WORK/src" ||
    die "pip could not install $SRC into $VENV (see above)"
  echo "$source_hash" >"$OPT/installed-source"
  PKG_CHANGED=1
  changed anxin "installed $("$VENV/bin/python" -m pip show anxin 2>/dev/null | sed -n 's/^Version: /anxin /p') ($source_hash) into $VENV in $((SECONDS - started)) s"
fi
if [ "$(readlink "$BIN/anxin" 2>/dev/null)" = "$ANXIN" ]; then
  ok command "linked: $BIN/anxin"
elif [ -e "$BIN/anxin" ] && [ ! -L "$BIN/anxin" ]; then
  warn command "kept $BIN/anxin, which is not a link to $ANXIN (another install?)"
else
  mkdir -p "$BIN" && ln -sfn "$ANXIN" "$BIN/anxin"
  changed command "linked $BIN/anxin -> $ANXIN"
fi
# The units' Documentation= and the installer's next steps point here.
docs=0
put docs "$SRC/README.md" "$OPT/README.md" 0644 && docs=1
for f in "$SRC"/docs/*.md; do put docs "$f" "$OPT/docs/${f##*/}" 0644 && docs=1; done
for f in hub station homes notify responders; do put docs "$SRC/config/$f.yaml" "$OPT/examples/$f.yaml" 0644 && docs=1; done
[ $docs = 1 ] || ok docs "current: $OPT/README.md, docs/, examples/"

# --- folders ------------------------------------------------------------------------------
for d in "$ETC" "$VAR"; do
  if [ -d "$d" ]; then ok folders "there: $d"; else mkdir -p "$d"; changed folders "created $d"; fi
done
mode 755 "$ETC"
mode 750 "$VAR"
own "$USER_NAME:$USER_NAME" "$VAR"

# --- hub: hub.yaml ------------------------------------------------------------------------
if [ "$ROLE" = hub ]; then
  cfg=$ETC/hub.yaml
  prefixed "$SRC/config/hub.yaml" >"$WORK/hub.yaml"
  fill "$WORK/hub.yaml" '^# Example hub configuration' '# Hub configuration, from the example in config/ (systemd/install.sh)'
  if [ -n "$HUB_ID" ]; then fill "$WORK/hub.yaml" '^hub_id: [^ ]+' "hub_id: $HUB_ID"
  else fill "$WORK/hub.yaml" '^hub_id: [^ ]+' '# hub_id: (set by anxin provision apply)'; fi
  [ ${#HOSTS[@]} = 0 ] || fill "$WORK/hub.yaml" '^  host: [^ ]+' "  host: ${HOSTS[0]}"
  fill "$WORK/hub.yaml" '^  port: [0-9]+' "  port: $PORT"
  write_once config "$cfg" 0640 "$WORK/hub.yaml" "from config/hub.yaml${HUB_ID:+, hub_id $HUB_ID}; describe this home's devices in it" || true
  if ! grep -qE '^hub_id:' "$cfg"; then
    NOT_READY="no hub_id yet"
  elif ! "$ANXIN" check-config "$cfg" >"$WORK/check" 2>&1; then
    NOT_READY="$cfg does not pass anxin check-config"; sed 's/^/          /' "$WORK/check"
  elif ! "$VENV/bin/python" -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); sys.exit(not (d.get("broker") or {}).get("tls"))' "$cfg"; then
    say config "checked: $(tail -n1 "$WORK/check")"
    NOT_READY="not provisioned yet (no broker.tls in hub.yaml)"
  else
    say config "checked, provisioned: $(tail -n1 "$WORK/check")"
    READY=1
  fi
fi

# --- station: CA, certificates, station.yaml, homes.yaml, broker --------------------------
if [ "$ROLE" = station ]; then
  [ ${#HOSTS[@]} -gt 0 ] || HOSTS=("$(hostname --fqdn 2>/dev/null || hostname)")
  CA=$ETC/ca TLS=$ETC/tls BROKER=$MQ/anxin
  if [ -e "$CA/ca.key" ]; then
    ok ca "there: $CA (never re-issued)"
  else
    "$ANXIN" ca init --dir "$CA" >/dev/null
    changed ca "created the station CA in $CA: keep it private and backed up"
  fi
  mode 700 "$CA"
  if [ -e "$BROKER/broker.crt" ]; then
    ok broker "issued: $BROKER/broker.crt (kept; for other names: anxin ca issue-broker --force …)"
  else
    names=()
    for h in "${HOSTS[@]}" localhost 127.0.0.1; do
      [[ " ${names[*]} " == *" $h "* ]] || names+=(--host "$h")
    done
    "$ANXIN" ca issue-broker --dir "$CA" --out "$BROKER" "${names[@]}" >/dev/null
    BROKER_CHANGED=1
    changed broker "issued the broker certificate for $(printf '%s, ' "${HOSTS[@]}")localhost, 127.0.0.1: $BROKER/broker.crt"
  fi
  if [ -e "$BROKER/mosquitto.conf" ]; then
    ok broker "configured: $BROKER/mosquitto.conf and acl (kept: consoles may have been added)"
  else
    "$ANXIN" broker-config --dir "$BROKER" --out "$BROKER" --port "$PORT" --station "$STATION_ID" --conf-d >/dev/null
    BROKER_CHANGED=1
    changed broker "wrote $BROKER/mosquitto.conf and acl (TLS on port $PORT, station:$STATION_ID)"
  fi
  mode 750 "$BROKER"
  mode 640 "$BROKER"/*
  own "root:mosquitto" "$BROKER" "$BROKER"/*  # mosquitto reads its key after dropping root
  if [ "$(readlink "$MQ/conf.d/anxin.conf" 2>/dev/null)" = ../anxin/mosquitto.conf ]; then
    ok broker "included: $MQ/conf.d/anxin.conf"
  else
    mkdir -p "$MQ/conf.d" && ln -sfn ../anxin/mosquitto.conf "$MQ/conf.d/anxin.conf"
    BROKER_CHANGED=1
    changed broker "linked $MQ/conf.d/anxin.conf -> ../anxin/mosquitto.conf"
  fi
  stem=station-$STATION_ID
  if [ -e "$TLS/$stem.crt" ]; then
    ok tls "issued: $TLS/$stem.crt"
  else
    "$ANXIN" ca issue-station "$STATION_ID" --dir "$CA" --out "$TLS" >/dev/null
    changed tls "issued the station service's certificate (station:$STATION_ID): $TLS/$stem.crt"
  fi
  mode 700 "$TLS"
  own "$USER_NAME:$USER_NAME" "$TLS" "$TLS"/*
  prefixed "$SRC/config/station.yaml" >"$WORK/station.yaml"
  fill "$WORK/station.yaml" '^# Example station configuration' '# Station configuration, from the example in config/ (systemd/install.sh)'
  fill "$WORK/station.yaml" '^station_id: [^ ]+' "station_id: $STATION_ID"
  fill "$WORK/station.yaml" '^  port: [0-9]+' "  port: $PORT\n  tls: {ca: tls/ca.crt, cert: tls/$stem.crt, key: tls/$stem.key}"
  write_once config "$ETC/station.yaml" 0640 "$WORK/station.yaml" "from config/station.yaml, TLS to the broker on 127.0.0.1:$PORT" || true
  cat >"$WORK/homes.yaml" <<'EOF'
# The elders of the homes this station serves: one entry per hub. Read at the station service's
# start (systemctl restart anxin-station). Keys: /opt/anxin/docs/configuration.md, "homes.yaml";
# a filled-in example: /opt/anxin/examples/homes.yaml.
homes: []
EOF
  write_once config "$ETC/homes.yaml" 0640 "$WORK/homes.yaml" "no homes yet" || true
  if "$ANXIN" check-config "$ETC/station.yaml" >"$WORK/check" 2>&1; then
    say config "checked: $(tail -n1 "$WORK/check")"
    READY=1
  else
    NOT_READY="$ETC/station.yaml does not pass anxin check-config"; sed 's/^/          /' "$WORK/check"
  fi
fi

# --- systemd ------------------------------------------------------------------------------
UNIT=anxin-$ROLE.service
prefixed "$SRC/systemd/$UNIT" >"$WORK/$UNIT"
if put units "$WORK/$UNIT" "$UNIT_DIR/$UNIT" 0644; then UNITS_CHANGED=1; else ok units "current: $UNIT_DIR/$UNIT"; fi
[ $UNITS_CHANGED = 0 ] || run units systemctl daemon-reload
enable=("$UNIT")
[ "$ROLE" = station ] && enable=(mosquitto.service "$UNIT")
for u in "${enable[@]}"; do
  if [ -z "$P" ] && systemctl is-enabled --quiet "$u" 2>/dev/null; then ok units "enabled: $u"; else run units systemctl enable --quiet "$u"; fi
done
restart() {  # UNIT CHANGED: restart after a change, start when stopped
  local how=start
  if [ "$2" = 1 ]; then how=restart
  elif [ -z "$P" ] && systemctl is-active --quiet "$1"; then ok service "running: $1"; return; fi
  run service systemctl "$how" "$1"
  [ -n "$P" ] || { sleep 2; systemctl is-active --quiet "$1"; } || die "$1 did not stay up: journalctl -u $1 says why"
}
[ "$ROLE" = station ] && restart mosquitto.service $BROKER_CHANGED
if [ $READY = 1 ]; then
  restart "$UNIT" $((PKG_CHANGED | UNITS_CHANGED))
else
  say service "not starting $UNIT: $NOT_READY"
fi

# --- what is left to do -------------------------------------------------------------------
next() { say next "$1"; }
if [ "$ROLE" = hub ]; then
  [ $REBOOT = 0 ] || next "reboot once, so the UART is on for the radar"
  if [ $READY = 0 ]; then
    id=${HUB_ID:-HUB}
    next "1. describe this home's devices in $ETC/hub.yaml (the example has every kind; remove what the home lacks; anxin pair --config $ETC/hub.yaml lists BLE sensors in range), then: anxin check-config $ETC/hub.yaml"
    next "2. on the station: sudo anxin provision issue $id --ca-dir /etc/anxin/ca --broker-host ${HOSTS[0]:-STATION} --broker-port $PORT; bring $id.bundle.yaml here"
    next "3. sudo anxin provision apply $id.bundle.yaml --config $ETC/hub.yaml --tls-dir $ETC/tls; delete the bundle; sudo systemctl restart $UNIT"
  fi
else
  next "1. the first admin: sudo -u $USER_NAME anxin user add NAME --role admin --display 站长 --config $ETC/station.yaml"
  next "2. the elders: add each home to $ETC/homes.yaml, then: sudo systemctl restart $UNIT"
  next "3. each hub: sudo anxin provision issue HUB --ca-dir $ETC/ca --broker-host ${HOSTS[0]} --broker-port $PORT; carry HUB.bundle.yaml to the hub"
  next "4. each duty console: docs/security.md, \"A console\"; list it with: sudo anxin broker-config --dir $BROKER --out $BROKER --port $PORT --station $STATION_ID --conf-d --console NAME; sudo systemctl reload mosquitto"
fi
if [ $CHANGES = 0 ]; then say "done" "nothing changed: already installed"; else say "done" "$CHANGES change(s)"; fi
