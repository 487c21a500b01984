#!/usr/bin/env bash
# The baseline of B3/B4: the bare jj and chezmoi commands one dotfile sync
# needs, with no safety checks, no state and no recovery (what a person's
# cron script would do). Same flags and environment as gitopsd's own calls
# (src/sync/index.ts), so the comparison is between the commands, not their
# settings.
#
#   baseline-sync.sh SOURCE_DIR DEST_DIR CHEZMOI_CONFIG HOST
#
# Steps: capture ($HOME -> source), seal (commit only when the working copy
# has changes: an empty commit per sync would be wrong), fetch, rebase onto
# the remote, move the bookmark, push, apply.
set -euo pipefail
src=$1 dest=$2 cfg=$3 host=$4

export JJ_CONFIG='' JJ_USER="baseline (sync on $host)" JJ_EMAIL="baseline@$host" JJ_EDITOR=false NO_COLOR=1
jj() { command jj --no-pager --color=never -R "$src" "$@"; }
chezmoi() { command chezmoi --no-tty --no-pager -S "$src" -D "$dest" -c "$cfg" "$@"; }

chezmoi re-add
if [ "$(jj log --no-graph -r @ -T 'if(empty, "empty", "changed")')" = changed ]; then
  jj commit -m "sync($host): $(date -u +%FT%TZ)"
fi
jj git fetch --remote origin
jj rebase -b @ -o main@origin
jj bookmark set main -r @- --allow-backwards
jj git push --remote origin -b main
chezmoi apply
