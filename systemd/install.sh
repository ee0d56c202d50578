#!/usr/bin/env bash
# Installs a booth from this checkout (built: npm ci && npm run build), as root:
#   1. the station user (sysusers.d entry) and its groups
#   2. its directories with owner and mode (the tmpfiles.d entry, also kept for boot)
#   3. the unit, the udev rules, the configuration (root:enroll-station 0640)
#   4. the camera program the configuration asks for (rpicam-apps or ffmpeg)
#   5. headquarters' public key and the broker TLS files, installed by root where the
#      configuration points (the station user cannot write /etc/enroll-station)
#   6. as the station user: station provision, station officer add, station doctor
#   7. systemctl enable --now enroll-station, where systemd runs
# Every step can be run again: nothing that exists is replaced (keys never are).
#
# usage: sudo bash systemd/install.sh --config FILE --hq-public FILE
#          [--tls-dir DIR]              ca.crt, station.crt, station.key for the broker (docs/production.md)
#          [--officer ID --officer-name NAME]   first officer; the PIN is asked (or read from stdin's first line)
#          [--identity-out FILE]        copy of the station identity for `hq register FILE`
#          [--offline]                  doctor skips the broker (e.g. installing in the workshop)
#          [--no-apt]                   do not install camera programs, only report them
#          [--no-start]                 do not enable or start the service
#          [--root DIR]                 install under DIR instead of / (a throwaway root for tests;
#                                       the paths in the installed configuration are moved under DIR)
set -euo pipefail

APP=$(cd "$(dirname "$0")/.." && pwd)
USER_NAME=enroll-station
ROOT="" CONFIG="" HQ_PUBLIC="" TLS_DIR="" OFFICER="" OFFICER_NAME="" IDENTITY_OUT="" OFFLINE=0 NO_APT=0 NO_START=0

die() { echo "error: $1" >&2; [ -n "${2:-}" ] && echo "  → $2" >&2; exit "${3:-1}"; }
usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
step() { printf '\n== %s\n' "$1"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --config) CONFIG=${2:?}; shift 2 ;;
    --hq-public) HQ_PUBLIC=${2:?}; shift 2 ;;
    --tls-dir) TLS_DIR=${2:?}; shift 2 ;;
    --officer) OFFICER=${2:?}; shift 2 ;;
    --officer-name) OFFICER_NAME=${2:?}; shift 2 ;;
    --identity-out) IDENTITY_OUT=${2:?}; shift 2 ;;
    --root) ROOT=${2%/}; shift 2 ;;
    --offline) OFFLINE=1; shift ;;
    --no-apt) NO_APT=1; shift ;;
    --no-start) NO_START=1; shift ;;
    -h|--help) usage ;;
    *) echo "error: unknown option $1" >&2; usage ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "run as root" "sudo bash $0 …" 2
[ -n "$CONFIG" ] || die "--config FILE is required" "start from config/station.example.yaml: set station.id, station.unit, devices, headquarters.brokerUrl" 2
[ -r "$CONFIG" ] || die "cannot read --config $CONFIG" "" 2
[ -n "$HQ_PUBLIC" ] || die "--hq-public FILE is required" "bring hq-public.json from headquarters (hq init --public-out FILE)" 2
[ -r "$HQ_PUBLIC" ] || die "cannot read --hq-public $HQ_PUBLIC" "" 2
if [ -n "$OFFICER" ] && [ -z "$OFFICER_NAME" ]; then die "--officer needs --officer-name \"NAME\"" "" 2; fi
if [ -n "$TLS_DIR" ]; then
  for f in ca.crt station.crt station.key; do [ -r "$TLS_DIR/$f" ] || die "--tls-dir $TLS_DIR has no readable $f" "it holds ca.crt, station.crt, station.key (docs/production.md §4)" 2; done
fi
NODE=$(command -v node) || die "node is not installed" "apt-get install nodejs (Node.js 20 or later)"
CLI="$APP/dist/station/cli/main.js"
[ -f "$CLI" ] || die "$CLI is missing" "build first: cd $APP && npm ci && npm run build"

ETC="$ROOT/etc/enroll-station"
CFG="$ETC/config.yaml"
as_station() { runuser -u "$USER_NAME" -- "$NODE" "$CLI" "$@" --config "$CFG"; }

step "1. user $USER_NAME"
install -D -m 0644 "$APP/systemd/enroll-station.sysusers.conf" "$ROOT/etc/sysusers.d/enroll-station.conf"
if ! id -u "$USER_NAME" >/dev/null 2>&1; then
  if command -v systemd-sysusers >/dev/null; then systemd-sysusers "$APP/systemd/enroll-station.sysusers.conf"
  else useradd --system --home-dir /var/lib/enroll-station --no-create-home --shell /usr/sbin/nologin "$USER_NAME"; fi
fi
for g in dialout video gpio; do getent group "$g" >/dev/null || groupadd --system "$g"; usermod -a -G "$g" "$USER_NAME"; done
echo "$USER_NAME: $(id "$USER_NAME")"

step "2. directories"
install -D -m 0644 "$APP/systemd/enroll-station.tmpfiles.conf" "$ROOT/etc/tmpfiles.d/enroll-station.conf"
# the tmpfiles.d entry's own lines, applied under $ROOT (systemd-tmpfiles does the same at every boot)
while read -r type path mode owner group _; do
  [ "$type" = d ] || continue
  install -d -m "$mode" -o "$owner" -g "$group" "$ROOT$path"
  chmod "$mode" "$ROOT$path"; chown "$owner:$group" "$ROOT$path"
  echo "$ROOT$path $mode $owner:$group"
done < <(grep -v '^#' "$APP/systemd/enroll-station.tmpfiles.conf")

step "3. unit, udev rules, configuration"
install -D -m 0644 "$APP/systemd/enroll-station.service" "$ROOT/etc/systemd/system/enroll-station.service"
install -D -m 0644 "$APP/systemd/99-enroll-station.rules" "$ROOT/etc/udev/rules.d/99-enroll-station.rules"
if [ -z "$ROOT" ] && command -v udevadm >/dev/null && [ -d /run/udev ]; then udevadm control --reload && udevadm trigger || true; fi
if [ -e "$CFG" ] && ! cmp -s "$CONFIG" "$CFG" && [ -z "$ROOT" ]; then
  echo "keeping the existing $CFG (differs from $CONFIG: compare them by hand)"
else
  tmp=$(mktemp)
  if [ -n "$ROOT" ]; then sed -e "s#/etc/enroll-station/#$ROOT/etc/enroll-station/#g" -e "s#/var/lib/enroll-station#$ROOT/var/lib/enroll-station#g" "$CONFIG" > "$tmp"
  else cat "$CONFIG" > "$tmp"; fi
  install -m 0640 -o root -g "$USER_NAME" "$tmp" "$CFG"; rm -f "$tmp"
fi
as_station config check || die "the configuration $CFG is not valid (above: key, value, what is allowed)" "fix $CONFIG and run this again" 2
CFG_JSON=$(runuser -u "$USER_NAME" -- "$NODE" "$CLI" config show --json --config "$CFG")
setting() { printf '%s' "$CFG_JSON" | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v?.[k];process.stdout.write(v===null||v===undefined?"":String(v))})' "$1"; }

if [ -n "$ROOT" ]; then
  for k in dataDir headquarters.publicKeyFile; do
    case "$(setting $k)" in "$ROOT"/*) ;; *) die "with --root, $k must lie under $ROOT (it is $(setting $k))" "name it in $CONFIG under /etc/enroll-station/ or /var/lib/enroll-station, which --root moves" 2 ;; esac
  done
fi

step "4. camera program"
if [ "$(setting devices.camera.simulated)" = true ]; then echo "simulated camera: nothing to install"
else
  case "$(setting devices.camera.backend)" in
    rpicam) bin=rpicam-still pkg=rpicam-apps ;;
    v4l2) bin=ffmpeg pkg=ffmpeg ;;
  esac
  if command -v "$bin" >/dev/null || { [ "$bin" = rpicam-still ] && command -v libcamera-still >/dev/null; }; then echo "$bin present"
  elif [ "$NO_APT" = 1 ]; then echo "WARNING: $bin is missing (devices.camera.backend needs it): apt-get install $pkg"
  else DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" || die "could not install $pkg (needed by devices.camera.backend)" "apt-get install $pkg by hand (rpicam-apps comes from the Raspberry Pi OS archive)"; fi
fi

step "5. headquarters key and broker TLS files"
HQ_TARGET=$(setting headquarters.publicKeyFile)
if [ -e "$HQ_TARGET" ] && ! cmp -s "$HQ_PUBLIC" "$HQ_TARGET"; then
  die "a different headquarters key is already installed at $HQ_TARGET" "replace it only when headquarters issued new keys: install -o root -g $USER_NAME -m 0644 $HQ_PUBLIC $HQ_TARGET"
fi
install -D -o root -g "$USER_NAME" -m 0644 "$HQ_PUBLIC" "$HQ_TARGET"
echo "$HQ_TARGET"
if [ -n "$TLS_DIR" ]; then
  for k in caFile certFile keyFile; do
    t=$(setting "headquarters.$k"); [ -n "$t" ] || die "--tls-dir given but headquarters.$k is not set in $CONFIG" "set it (docs/production.md §4)" 2
    case $k in caFile) src=ca.crt mode=0644 owner=root ;; certFile) src=station.crt mode=0644 owner=root ;; keyFile) src=station.key mode=0600 owner=$USER_NAME ;; esac
    install -d -o root -g "$USER_NAME" -m 0750 "$(dirname "$t")"
    install -o "$owner" -g "$USER_NAME" -m "$mode" "$TLS_DIR/$src" "$t"; echo "$t $mode $owner"
  done
fi

step "6. provision, officer, doctor (as $USER_NAME)"
as_station provision
DATA=$(setting dataDir)
if [ -n "$IDENTITY_OUT" ]; then cp "$DATA/identity.json" "$IDENTITY_OUT"; echo "identity for headquarters: $IDENTITY_OUT (hq register $IDENTITY_OUT)"; fi
if [ -n "$OFFICER" ]; then
  if as_station officer list --json | grep -q "\"id\": \"$OFFICER\""; then echo "officer $OFFICER exists"
  else as_station officer add "$OFFICER" --name "$OFFICER_NAME"; fi
fi
doctor_args=(); [ "$OFFLINE" = 1 ] && doctor_args=(--offline)
as_station doctor "${doctor_args[@]}" || die "station doctor found problems (above, each with what to do)" "fix them and run this again; nothing installed so far is lost"

step "7. service"
if [ -n "$ROOT" ] || [ "$NO_START" = 1 ] || [ ! -d /run/systemd/system ]; then
  echo "not started here ($( [ -n "$ROOT" ] && echo "installed under --root $ROOT" || { [ "$NO_START" = 1 ] && echo "--no-start"; } || echo "systemd is not running"))"
  echo "on the booth: systemctl daemon-reload && systemctl enable --now enroll-station"
else
  systemctl daemon-reload
  systemctl enable --now enroll-station
  systemctl --no-pager --lines=5 status enroll-station || true
fi
echo
echo "installed. Take $DATA/identity.json to headquarters: hq register FILE"
