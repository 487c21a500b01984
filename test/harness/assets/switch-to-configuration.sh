# Body of the simulated bin/switch-to-configuration (docs/simulated-host.md).
#
# The toplevel's builder writes "#!/bin/sh" and "out='<its own store path>'"
# above this body, so every generation carries its own copy, like the real one.
# It acts on the fake root in $SIM_ROOT, never on the real system:
#
#   boot          point $SIM_ROOT/boot/default at $out (atomic rename)
#   test          point $SIM_ROOT/run/current-system at $out and set unit
#                 states: each unit in $SIM_ROOT/etc/sim/services becomes
#                 active, each unit in $out/etc/gitopsd-sim/failing-services
#                 becomes failed; exit 4 if any failed
#   switch        boot, then test (the real one installs the boot loader before
#                 activating, so a failed activation still leaves the boot
#                 default set); exit 4 if any unit failed
#   dry-activate  print what test would do; change nothing
#
# switch, test and dry-activate first compare init-interface-version with
# the running system's, as main.rs does: a different one exits 100 with
# main.rs's warning, nothing activated (init_compatible below).
#
# Like the real one, it first takes a non-blocking exclusive flock of
# $SIM_ROOT/run/nixos/switch-to-configuration.lock (main.rs: /run/nixos/…);
# held by another switch, it prints "Could not acquire lock" and exits 11
# (main.rs's die() exits with errno: EWOULDBLOCK), having changed nothing.
# Each call that gets the lock appends "<ISO time> <action> <$out>" to
# $SIM_ROOT/run/activations.log.
# $SIM_ROOT/etc/sim/hang-activation (one action per line) makes those actions
# hang after logging, for the hang tests.
set -eu

usage() {
  echo "Usage: $out/bin/switch-to-configuration [switch|boot|test|dry-activate]" >&2
  exit 1
}

[ "$#" -eq 1 ] || usage
action=$1
case $action in
  switch | boot | test | dry-activate) ;;
  *) usage ;;
esac

if [ -z "${SIM_ROOT:-}" ]; then
  echo "switch-to-configuration (simulated): SIM_ROOT is not set; refusing to act on the real system" >&2
  exit 1
fi
if [ ! -d "$SIM_ROOT/etc/sim" ]; then
  echo "switch-to-configuration (simulated): $SIM_ROOT is not a simulated host root (no etc/sim)" >&2
  exit 1
fi

manifest=$out/etc/gitopsd-sim/failing-services
services_file=$SIM_ROOT/etc/sim/services
units_dir=$SIM_ROOT/run/systemd/units

mkdir -p "$SIM_ROOT/run/nixos"
exec 9>>"$SIM_ROOT/run/nixos/switch-to-configuration.lock"
if ! flock -n 9; then
  echo "Could not acquire lock" >&2
  exit 11
fi
printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$action" "$out" >>"$SIM_ROOT/run/activations.log"

# A stuck activation caused by the host, not by the generation (issue 13,
# input 6): when $SIM_ROOT/etc/sim/hang-activation lists this action, the
# call never returns (until the caller kills it), as a real
# switch-to-configuration waiting on a unit that never settles.
if [ -f "$SIM_ROOT/etc/sim/hang-activation" ] && grep -qxF "$action" "$SIM_ROOT/etc/sim/hang-activation"; then
  echo "activating the configuration..." >&2
  while :; do sleep 1 9>&-; done
fi

# point_at LINK: atomically make LINK a symlink to $out.
point_at() {
  mkdir -p "$(dirname "$1")"
  ln -sfn "$out" "$1.tmp.$$"
  mv -T "$1.tmp.$$" "$1"
}

# set_unit UNIT STATE: write one unit's state atomically.
set_unit() {
  printf '%s\n' "$2" >"$units_dir/$1.tmp.$$"
  mv -f "$units_dir/$1.tmp.$$" "$units_dir/$1"
}

# in_manifest UNIT: true when this generation's manifest lists UNIT as failing.
in_manifest() {
  [ -f "$manifest" ] && grep -qxF "$1" "$manifest"
}

activate() {
  point_at "$SIM_ROOT/run/current-system"
  mkdir -p "$units_dir"
  rc=0
  # A generation whose activate script fails (breakage activate-script-fails):
  # what main.rs and activation-script.nix print, in their order. The snippet
  # on stdout, main.rs's line on stderr, exit 2; main.rs carries on with the
  # units, and after a nixpkgs update lists most of them as restarted (here
  # 120 names, over 2,000 characters of stderr after the line).
  if [ -s "$out/etc/gitopsd-sim/failing-activation" ]; then
    echo "activating the configuration..." >&2
    printf "Activation script snippet '%s' failed (1)\n" "$(head -n 1 "$out/etc/gitopsd-sim/failing-activation")"
    echo "Failed to run activate script" >&2
    rc=2
    i=0 units=
    while [ "$i" -lt 120 ]; do
      units="${units:+$units, }sim-restarted-unit-$i.service"
      i=$((i + 1))
    done
    echo "restarting the following units: $units" >&2
  fi
  failed=
  if [ -f "$services_file" ]; then
    while IFS= read -r unit || [ -n "$unit" ]; do
      [ -n "$unit" ] || continue
      if in_manifest "$unit"; then continue; fi
      set_unit "$unit" active
    done <"$services_file"
  fi
  if [ -f "$manifest" ]; then
    while IFS= read -r unit || [ -n "$unit" ]; do
      [ -n "$unit" ] || continue
      set_unit "$unit" failed
      failed="${failed:+$failed, }$unit"
    done <"$manifest"
  fi
  if [ -n "$failed" ]; then
    echo "warning: the following units failed: $failed" >&2
    return 4
  fi
  return "$rc"
}

# init_compatible: main.rs (do_system_switch), after the boot action has
# exited and before anything is activated: the running system's
# init-interface-version (`read_to_string(..).unwrap_or_default()`: missing
# or unreadable is empty) must equal the new one's, byte for byte (a
# trailing newline counts: `$(cat)` would drop it, so cmp compares), or it
# prints this warning and exits 100, having activated nothing (for switch
# the boot loader entry is already installed). The new one's must exist
# (`.context("File init-interface-version should exist")?`: anyhow's
# "Error: …" and exit 1).
init_compatible() {
  if [ ! -f "$out/init-interface-version" ]; then
    printf 'Error: File init-interface-version should exist\n\nCaused by:\n    No such file or directory (os error 2)\n' >&2
    exit 1
  fi
  current="$SIM_ROOT/run/current-system/init-interface-version"
  if [ -r "$current" ]; then
    cmp -s "$current" "$out/init-interface-version" && same=1 || same=0
  else
    [ -s "$out/init-interface-version" ] && same=0 || same=1
  fi
  if [ "$same" = 0 ]; then
    printf '%s\n%s\n%s\n\n' "Warning: the new NixOS configuration has an ‘init’ that is" \
      "incompatible with the current configuration.  The new configuration" \
      "won't take effect until you reboot the system." >&2
    exit 100
  fi
}

case $action in
  boot)
    point_at "$SIM_ROOT/boot/default"
    ;;
  test)
    init_compatible
    activate || exit $?
    ;;
  switch)
    point_at "$SIM_ROOT/boot/default"
    init_compatible
    activate || exit $?
    ;;
  dry-activate)
    init_compatible
    echo "would activate $out"
    if [ -s "$manifest" ]; then
      echo "would start the following units (and they would fail): $(paste -sd, "$manifest" | sed 's/,/, /g')"
    fi
    ;;
esac
exit 0
